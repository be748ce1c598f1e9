//! kube's CEL extension functions that DRA selectors use, registered on the `cel` crate's
//! environment: the quantity library (`quantity("16Gi")`, `isQuantity`, `compareTo`,
//! `isGreaterThan`, `isLessThan`, `add`, `sub`, `asInteger`, `isInteger`, `asApproximateFloat`,
//! `sign`) and the semver library (`semver("1.2.3")`, `isSemver`, `compareTo`, `isGreaterThan`,
//! `isLessThan`, `major`, `minor`, `patch`).

use std::cmp::Ordering;

use cel::common::types::{CelBool, CelDouble, CelInt, CelString, INT_TYPE, STRING_TYPE};
use cel::common::value::CowVal;
use cel::{DeclarationError, Env, ExecutionError};

use super::semver::Semver;
use super::values::{QUANTITY_TYPE, QuantityVal, SEMVER_TYPE, SemverVal};
use crate::quantity::parse_milli_value;

type Out<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn arity(args: &[CowVal<'_, '_>], n: usize) -> Result<(), ExecutionError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(ExecutionError::invalid_argument_count(n, args.len()))
    }
}

fn string_arg<'a>(args: &'a [CowVal<'_, '_>], i: usize) -> Result<&'a str, ExecutionError> {
    args[i]
        .downcast_ref::<CelString>()
        .map(CelString::inner)
        .ok_or_else(|| ExecutionError::UnexpectedType {
            got: args[i].get_type().name().to_owned(),
            want: "string".to_owned(),
        })
}

fn quantity_arg(args: &[CowVal<'_, '_>], i: usize) -> Result<i64, ExecutionError> {
    if let Some(q) = args[i].downcast_ref::<QuantityVal>() {
        return Ok(q.0);
    }
    // `add(int)` / `sub(int)`: whole units.
    if let Some(n) = args[i].downcast_ref::<CelInt>() {
        return n
            .inner()
            .checked_mul(1000)
            .ok_or_else(|| ExecutionError::function_error("quantity", "overflow"));
    }
    Err(ExecutionError::UnexpectedType {
        got: args[i].get_type().name().to_owned(),
        want: QUANTITY_TYPE.name().to_owned(),
    })
}

fn semver_arg<'a>(args: &'a [CowVal<'_, '_>], i: usize) -> Result<&'a Semver, ExecutionError> {
    args[i]
        .downcast_ref::<SemverVal>()
        .map(|s| &s.0)
        .ok_or_else(|| ExecutionError::UnexpectedType {
            got: args[i].get_type().name().to_owned(),
            want: SEMVER_TYPE.name().to_owned(),
        })
}

fn ordering_int(o: Ordering) -> i64 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

fn quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 1)?;
    let q = parse_milli_value(string_arg(&args, 0)?)
        .map_err(|e| ExecutionError::function_error("quantity", e))?;
    Ok(CowVal::owned(QuantityVal(q)))
}

fn is_quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 1)?;
    let ok = parse_milli_value(string_arg(&args, 0)?).is_ok();
    Ok(CowVal::owned(CelBool::from(ok)))
}

fn q_cmp(args: &[CowVal<'_, '_>]) -> Result<Ordering, ExecutionError> {
    arity(args, 2)?;
    Ok(quantity_arg(args, 0)?.cmp(&quantity_arg(args, 1)?))
}

fn q_less<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(
        q_cmp(&args)? == Ordering::Less,
    )))
}

fn q_greater<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(
        q_cmp(&args)? == Ordering::Greater,
    )))
}

fn q_compare<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelInt::from(ordering_int(q_cmp(&args)?))))
}

fn q_add<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 2)?;
    quantity_arg(&args, 0)?
        .checked_add(quantity_arg(&args, 1)?)
        .map(|q| CowVal::owned(QuantityVal(q)))
        .ok_or_else(|| ExecutionError::function_error("add", "overflow"))
}

fn q_sub<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 2)?;
    quantity_arg(&args, 0)?
        .checked_sub(quantity_arg(&args, 1)?)
        .map(|q| CowVal::owned(QuantityVal(q)))
        .ok_or_else(|| ExecutionError::function_error("sub", "overflow"))
}

fn q_is_integer<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 1)?;
    Ok(CowVal::owned(CelBool::from(
        quantity_arg(&args, 0)? % 1000 == 0,
    )))
}

fn q_as_integer<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 1)?;
    let milli = quantity_arg(&args, 0)?;
    if milli % 1000 != 0 {
        return Err(ExecutionError::function_error(
            "asInteger",
            "cannot convert value to integer",
        ));
    }
    Ok(CowVal::owned(CelInt::from(milli / 1000)))
}

fn q_as_float<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 1)?;
    let milli = quantity_arg(&args, 0)?;
    Ok(CowVal::owned(CelDouble::from(milli as f64 / 1000.0)))
}

fn q_sign<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 1)?;
    Ok(CowVal::owned(CelInt::from(
        quantity_arg(&args, 0)?.signum(),
    )))
}

fn semver<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 1)?;
    let v = Semver::parse(string_arg(&args, 0)?)
        .map_err(|e| ExecutionError::function_error("semver", e))?;
    Ok(CowVal::owned(SemverVal(v)))
}

fn is_semver<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    arity(&args, 1)?;
    let ok = Semver::parse(string_arg(&args, 0)?).is_ok();
    Ok(CowVal::owned(CelBool::from(ok)))
}

fn v_cmp(args: &[CowVal<'_, '_>]) -> Result<Ordering, ExecutionError> {
    arity(args, 2)?;
    Ok(semver_arg(args, 0)?.cmp(semver_arg(args, 1)?))
}

fn v_less<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(
        v_cmp(&args)? == Ordering::Less,
    )))
}

fn v_greater<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(
        v_cmp(&args)? == Ordering::Greater,
    )))
}

fn v_compare<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelInt::from(ordering_int(v_cmp(&args)?))))
}

fn v_part(args: &[CowVal<'_, '_>], part: fn(&Semver) -> u64) -> Result<i64, ExecutionError> {
    arity(args, 1)?;
    i64::try_from(part(semver_arg(args, 0)?))
        .map_err(|_| ExecutionError::function_error("semver", "component out of range"))
}

fn v_major<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelInt::from(v_part(&args, |v| v.major)?)))
}

fn v_minor<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelInt::from(v_part(&args, |v| v.minor)?)))
}

fn v_patch<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    Ok(CowVal::owned(CelInt::from(v_part(&args, |v| v.patch)?)))
}

/// Registers both libraries on `env`.
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let q = || QUANTITY_TYPE.to_owned();
    let s = || SEMVER_TYPE.to_owned();
    env.add_overload("quantity", "quantity_string", vec![STRING_TYPE], quantity)?;
    env.add_overload(
        "isQuantity",
        "is_quantity_string",
        vec![STRING_TYPE],
        is_quantity,
    )?;
    env.add_member_overload("isLessThan", "quantity_less", q(), vec![q()], q_less)?;
    env.add_member_overload(
        "isGreaterThan",
        "quantity_greater",
        q(),
        vec![q()],
        q_greater,
    )?;
    env.add_member_overload("compareTo", "quantity_compare", q(), vec![q()], q_compare)?;
    env.add_member_overload("add", "quantity_add", q(), vec![q()], q_add)?;
    env.add_member_overload("add", "quantity_add_int", q(), vec![INT_TYPE], q_add)?;
    env.add_member_overload("sub", "quantity_sub", q(), vec![q()], q_sub)?;
    env.add_member_overload("sub", "quantity_sub_int", q(), vec![INT_TYPE], q_sub)?;
    env.add_member_overload(
        "isInteger",
        "quantity_is_integer",
        q(),
        vec![],
        q_is_integer,
    )?;
    env.add_member_overload(
        "asInteger",
        "quantity_as_integer",
        q(),
        vec![],
        q_as_integer,
    )?;
    env.add_member_overload(
        "asApproximateFloat",
        "quantity_as_float",
        q(),
        vec![],
        q_as_float,
    )?;
    env.add_member_overload("sign", "quantity_sign", q(), vec![], q_sign)?;
    env.add_overload("semver", "semver_string", vec![STRING_TYPE], semver)?;
    env.add_overload("isSemver", "is_semver_string", vec![STRING_TYPE], is_semver)?;
    env.add_member_overload("isLessThan", "semver_less", s(), vec![s()], v_less)?;
    env.add_member_overload("isGreaterThan", "semver_greater", s(), vec![s()], v_greater)?;
    env.add_member_overload("compareTo", "semver_compare", s(), vec![s()], v_compare)?;
    env.add_member_overload("major", "semver_major", s(), vec![], v_major)?;
    env.add_member_overload("minor", "semver_minor", s(), vec![], v_minor)?;
    env.add_member_overload("patch", "semver_patch", s(), vec![], v_patch)?;
    Ok(())
}
