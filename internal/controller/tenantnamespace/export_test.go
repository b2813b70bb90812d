package tenantnamespace

// AppliedDigest is appliedDigest, for the tests of the package's users' view.
var AppliedDigest = appliedDigest

// DigestOf is digestOf.
var DigestOf = digestOf
