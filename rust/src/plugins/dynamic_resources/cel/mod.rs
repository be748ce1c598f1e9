//! CEL selectors (`spec.selectors[].cel.expression` of classes and requests), compiled once per
//! distinct expression with the `cel` crate and kube's extension functions, under kube's size
//! and cost bounds. Compiling or evaluating never panics into the caller: a failure is a
//! `CelFailure` with the interpreter's detail, which the allocator turns into a reason naming
//! the claim, the request and the expression.

pub mod library;
pub mod semver;
pub mod values;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock, Mutex};

use cel::common::ast::{EntryExpr, Expr};
use cel::common::types::CelMap;
use cel::common::value::CowVal;
use cel::context::VariableResolver;
use cel::{Context, Env, IdedExpr, Program, Value};

use super::error::CelFailure;

/// kube's `CELSelectorExpressionMaxLength`.
pub const MAX_EXPRESSION_LEN: usize = 10 * 1024;
/// kube's `CELSelectorExpressionMaxCost`, against podium's static estimate below.
pub const MAX_COST: u64 = 1_000_000;
/// Iterations a comprehension over a non-literal range is assumed to make: a device has at most
/// 32 attributes and capacities (`ResourceSliceMaxAttributesAndCapacitiesPerDevice`) and its
/// strings are short, so 64 bounds what any range built from `device` can hold.
const DYNAMIC_RANGE: u64 = 64;
/// Distinct expressions kept compiled; past it the cache starts over (expressions come from a
/// few classes and claim templates, so this is never reached in practice).
const CACHE_LIMIT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelError {
    pub failure: CelFailure,
    pub detail: String,
}

impl CelError {
    fn new(failure: CelFailure, detail: impl Into<String>) -> Self {
        Self {
            failure,
            detail: detail.into(),
        }
    }
}

/// A compiled selector.
pub struct Selector {
    program: Program,
    pub expression: Arc<str>,
}

impl std::fmt::Debug for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Selector").field(&self.expression).finish()
    }
}

static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // The strings extension is part of kube's base CEL environment.
    let _ = env.add_extension(cel::extensions::strings);
    library::register(&mut env).expect("the DRA CEL library registers on a fresh environment");
    Arc::new(env)
});

type Compiled = Result<Arc<Selector>, CelError>;

static CACHE: LazyLock<Mutex<HashMap<Arc<str>, Compiled>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The compiled selector for `expression`, from the cache when it was compiled before.
pub fn compile(expression: &str) -> Compiled {
    if let Some(hit) = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(expression)
    {
        return hit.clone();
    }
    let compiled = compile_uncached(expression);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(Arc::from(expression), compiled.clone());
    compiled
}

fn compile_uncached(expression: &str) -> Compiled {
    if expression.len() > MAX_EXPRESSION_LEN {
        return Err(CelError::new(
            CelFailure::Compile,
            format!(
                "expression is {} bytes, more than the {MAX_EXPRESSION_LEN} allowed",
                expression.len()
            ),
        ));
    }
    let parsed = catch_unwind(AssertUnwindSafe(|| ENV.compile(expression)))
        .map_err(|_| CelError::new(CelFailure::Compile, "the CEL parser failed"))?;
    let program = parsed.map_err(|e| CelError::new(CelFailure::Compile, e.to_string()))?;
    let cost = estimate(program.expression());
    if cost > MAX_COST {
        return Err(CelError::new(
            CelFailure::Cost,
            format!("estimated cost {cost} exceeds the budget of {MAX_COST}"),
        ));
    }
    Ok(Arc::new(Selector {
        program,
        expression: Arc::from(expression),
    }))
}

/// An upper-bound estimate of the nodes an evaluation visits: a comprehension's body counts
/// once per iteration of its range.
fn estimate(e: &IdedExpr) -> u64 {
    match &e.expr {
        Expr::Call(c) => c.args.iter().map(estimate).fold(
            1 + c.target.as_deref().map_or(0, estimate),
            u64::saturating_add,
        ),
        Expr::Comprehension(c) => {
            let range = match &c.iter_range.expr {
                Expr::List(l) => l.elements.len() as u64,
                Expr::Map(m) => m.entries.len() as u64,
                _ => DYNAMIC_RANGE,
            };
            let body = estimate(&c.loop_cond).saturating_add(estimate(&c.loop_step));
            estimate(&c.iter_range)
                .saturating_add(estimate(&c.accu_init))
                .saturating_add(estimate(&c.result))
                .saturating_add(range.saturating_mul(body))
        }
        Expr::List(l) => l.elements.iter().map(estimate).fold(1, u64::saturating_add),
        Expr::Map(m) => m
            .entries
            .iter()
            .map(|en| match &en.expr {
                EntryExpr::MapEntry(me) => estimate(&me.key).saturating_add(estimate(&me.value)),
                EntryExpr::StructField(sf) => estimate(&sf.value),
            })
            .fold(1, u64::saturating_add),
        Expr::Struct(s) => s
            .entries
            .iter()
            .map(|en| match &en.expr {
                EntryExpr::MapEntry(me) => estimate(&me.key).saturating_add(estimate(&me.value)),
                EntryExpr::StructField(sf) => estimate(&sf.value),
            })
            .fold(1, u64::saturating_add),
        Expr::Select(s) => 1 + estimate(&s.operand),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => 1,
    }
}

struct DeviceVar<'a>(&'a CelMap<'static>);

impl VariableResolver for DeviceVar<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        (variable == "device").then(|| CowVal::Borrowed(self.0 as &dyn cel::common::value::Val))
    }
}

impl Selector {
    /// Whether the device (its value from `values::device_value`) satisfies the expression.
    pub fn matches(&self, device: &CelMap<'static>) -> Result<bool, CelError> {
        let vars = DeviceVar(device);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut ctx = Context::with_env(ENV.clone());
            ctx.set_variable_resolver(&vars);
            self.program.execute(&ctx)
        }))
        .map_err(|_| CelError::new(CelFailure::Runtime, "the CEL interpreter failed"))?;
        match result {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(CelError::new(
                CelFailure::NotBool,
                format!("must evaluate to bool, not {other:?}"),
            )),
            Err(e) => Err(CelError::new(CelFailure::Runtime, e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests;
