package schema

// MallocTunables is mallocTunables, for the external tests.
const MallocTunables = mallocTunables
