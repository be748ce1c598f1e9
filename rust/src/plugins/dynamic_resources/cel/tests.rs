use super::values::device_value;
use super::*;
use crate::state::dra::fixtures::gpu_node_slice;
use crate::state::dra::slice::Slice;

fn gpu() -> CelMap<'static> {
    let s = Slice::decode(&gpu_node_slice("n0", 8, 4)).unwrap();
    device_value(&s.devices[3]).unwrap()
}

fn eval(expr: &str) -> Result<bool, CelError> {
    compile(expr)?.matches(&gpu())
}

#[test]
fn driver_attributes_and_capacity() {
    assert_eq!(eval("device.driver == 'gpu.example.com'"), Ok(true));
    assert_eq!(
        eval("device.attributes['gpu.example.com'].model == 'h100'"),
        Ok(true)
    );
    assert_eq!(
        eval("device.attributes['gpu.example.com'].index == 3"),
        Ok(true)
    );
    assert_eq!(
        eval("device.attributes['resource.kubernetes.io'].pcieRoot == 'pci-1'"),
        Ok(true)
    );
    assert_eq!(eval("'gpu.example.com' in device.attributes"), Ok(true));
    assert_eq!(eval("'other.example.com' in device.attributes"), Ok(false));
    assert_eq!(
        eval("has(device.attributes['gpu.example.com'].model)"),
        Ok(true)
    );
    assert_eq!(
        eval("has(device.attributes['other.example.com'].model)"),
        Ok(false)
    );
    assert_eq!(eval("device.allowMultipleAllocations"), Ok(false));
    assert_eq!(
        eval("device.attributes['gpu.example.com'].model.startsWith('h1')"),
        Ok(true)
    );
    assert_eq!(
        eval("device.attributes['gpu.example.com'].model.upperAscii() == 'H100'"),
        Ok(true)
    );
}

#[test]
fn quantity_functions() {
    let t = |e: &str| assert_eq!(eval(e), Ok(true), "{e}");
    t("device.capacity['gpu.example.com'].memory.compareTo(quantity('80Gi')) == 0");
    t("device.capacity['gpu.example.com'].memory.isGreaterThan(quantity('16Gi'))");
    t("device.capacity['gpu.example.com'].memory.isLessThan(quantity('1Ti'))");
    t("device.capacity['gpu.example.com'].memory == quantity('81920Mi')");
    t("quantity('1.5').add(quantity('500m')).asInteger() == 2");
    t("quantity('500m').sub(1).sign() == -1");
    t("!quantity('500m').isInteger()");
    t("quantity('3').asApproximateFloat() == 3.0");
    t("isQuantity('10Gi') && !isQuantity('ten')");
}

#[test]
fn semver_functions() {
    let t = |e: &str| assert_eq!(eval(e), Ok(true), "{e}");
    t("device.attributes['gpu.example.com'].driverVersion.isGreaterThan(semver('1.0.0'))");
    t("device.attributes['gpu.example.com'].driverVersion.compareTo(semver('1.2.3')) == 0");
    t("device.attributes['gpu.example.com'].driverVersion.isLessThan(semver('1.10.0'))");
    t(
        "semver('1.2.3').major() == 1 && semver('1.2.3').minor() == 2 && semver('1.2.3').patch() == 3",
    );
    t("isSemver('1.2.3') && !isSemver('1.2')");
    t("device.attributes['gpu.example.com'].driverVersion == semver('1.2.3')");
}

#[test]
fn failures_are_typed_never_panics() {
    let compile_err = compile("device.driver ==").unwrap_err();
    assert_eq!(compile_err.failure, CelFailure::Compile);
    let missing = eval("device.attributes['other.example.com'].model == 'x'").unwrap_err();
    assert_eq!(missing.failure, CelFailure::Runtime);
    let not_bool = eval("device.driver").unwrap_err();
    assert_eq!(not_bool.failure, CelFailure::NotBool);
    let unknown_fn = eval("nosuchfunction(device.driver)").unwrap_err();
    assert_eq!(unknown_fn.failure, CelFailure::Runtime);
    let bad_quantity = eval("quantity('lots').sign() == 1").unwrap_err();
    assert_eq!(bad_quantity.failure, CelFailure::Runtime);
    let long = format!("device.driver == '{}'", "x".repeat(MAX_EXPRESSION_LEN));
    assert_eq!(compile(&long).unwrap_err().failure, CelFailure::Compile);
}

#[test]
fn cost_is_bounded_and_compiles_are_cached() {
    let list: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    let l = format!("[{}]", list.join(","));
    let nested = format!("{l}.all(x, {l}.all(y, {l}.exists(z, x + y == z)))");
    assert_eq!(compile(&nested).unwrap_err().failure, CelFailure::Cost);
    assert_eq!(
        eval(&format!("{l}.exists(x, x == 199)")),
        Ok(true),
        "a single comprehension over a literal is fine"
    );
    let a = compile("device.driver == 'a'").unwrap();
    let b = compile("device.driver == 'a'").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}
