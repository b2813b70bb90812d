package tenantclass

// BindingCurrent exposes bindingCurrent to the package's tests.
var BindingCurrent = bindingCurrent
