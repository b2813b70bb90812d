package tenantclass

// BindingCurrent exposes bindingCurrent to the package's tests.
var BindingCurrent = bindingCurrent

// NodePoolBindingCurrent exposes nodePoolBindingCurrent to the package's tests.
var NodePoolBindingCurrent = nodePoolBindingCurrent
