// Package keys is the store of API keys (table api_keys): their roles,
// the people they belong to, and the lookup that authenticates a bearer
// secret. The HTTP handlers (package api) and the CLI (`folio keys`) both
// call it.
//
// # Roles
//
// A key has one of four roles (docs/CONTRACT.md §5): admin (everything), poster (the
// exchange's feed: users, lifecycle events, trades and their reversals),
// auditor (read-only journal, reports and audit) and affiliate (read-only,
// scoped to its Holder, a registered user id; only affiliate keys have a
// holder). Which routes admit which role is the HTTP layer's business.
//
// # People and four-eyes lineage
//
// Every key belongs to a person, who is what four-eyes separates (docs/CONTRACT.md
// §10). api_keys.person_id is fixed when the key is created ([Mint]): a key
// minted by a key (actor = the minter's id) gets its minter's person_id, so
// every key minted directly or transitively from one root key is the root's
// person and person_id is the root key's id; a key created by the bootstrap
// key or by the CLI is a person of its own (person_id = its own id).
// Because person_id is stored, not derived on each lookup, revoking the
// root (or any key of the chain) leaves the minted keys the same person.
// api_keys.person is only a label for who holds the key (optional; 1 to 100
// printable characters): it never decides the person.
//
// # Secrets
//
// A secret is [Prefix] ("folio_") followed by 52 lower-case base32
// characters (32 bytes from crypto/rand). It is returned once, by [Mint]
// or [Create]; only its SHA-256 is stored (api_keys.key_hash), and
// [Lookup] finds a key by hashing the presented secret. Neither [Key], the
// listing nor the audit log ever carry the secret or its hash.
//
// Creating and revoking a key each write one audit record (package audit)
// in the same transaction: actions "key.create" and "key.revoke", object
// "key:<id>".
package keys
