// Package seal gives the sharded journal one tamper-evident order and
// proofs over it: seals, an append-only Merkle log in the RFC 6962 shape
// (golang.org/x/mod/sumdb/tlog, the certificate-transparency
// construction) and signed checkpoints in the C2SP tlog-checkpoint /
// signed-note format (golang.org/x/mod/sumdb/note). It owns the tables
// seals, seal_heads, merkle_hashes and merkle_leaves (migration 028), all
// append-only: the server's role may read and insert, never update or
// delete. It reads the journal only through the ledger's functions
// (ledger.Heads, ledger.ShardPositions, ledger.PositionOf).
//
// # Seals
//
// The journal is S shards, each with its own gapless seq and hash chain
// (ledger/doc.go, "Shards"); nothing orders entries of different shards. A
// seal records, at one consistent cut (the heads are read in the sealing
// transaction, in one statement), every shard's head (seq and hash of its
// last entry; 0 and 32 zero bytes for a shard with no entry) and the
// previous seal's hash. Seal n+1 follows seal n; the first seal's
// prev_hash is 32 zero bytes. A seal's hash is SHA-256 of exactly these
// bytes (CanonicalBytes), one line each, "\n"-terminated:
//
//	folio-seal/1
//	n <n>
//	sealed_at <UTC, RFC 3339 with up to 6 fractional digits, as stored>
//	prev <hex of the previous seal's hash>
//	tree <tree size> <base64 of the Merkle root>
//	head <shard> <seq> <hex of the entry's chain hash>     (one per shard, in shard order)
//
// The checkpoint is not hashed: it is the signature of the tree line.
//
// Sealing (Service.Seal) runs in one SERIALIZABLE transaction: read the
// last seal, read the heads, and if no shard moved do nothing; otherwise
// append the new entries to the Merkle log and insert seal n+1. The seal
// number is the primary key, so two sealers (two `folio serve` processes,
// or the worker and POST /v1/audit/seals) that read the same last seal
// cannot both write n+1: the loser fails with a unique violation (or a
// serialization failure) and retries against the winner's seal, which
// usually leaves it nothing to do. The chain never forks and no entry is
// appended twice (merkle_leaves' key is the entry id). `folio serve` seals
// every --seal-interval (5s) when a shard moved. The sealer only reads the
// journal's rows: on PostgreSQL it never blocks a writer; on CockroachDB a
// writer whose head it read may have to refresh its reads or retry.
//
// One seal appends at most MaxSealLeaves entries (Service.MaxLeaves), so
// its memory and transaction stay bounded. A larger backlog — the first
// seal of a journal written before seals existed, or every sealer stopped
// for a long time — is sealed by one Seal call in several seals in a row,
// each taking up to MaxSealLeaves/S of every shard's next entries; their
// heads are the entries they reached (read in the same snapshot), not yet
// the shards' heads of that moment.
//
// # The global order and the Merkle log
//
// The Merkle log's leaves are the journal's entries in the global order:
// seal by seal; within a seal, the entries new since the previous seal
// (seq past the previous seal's head of their shard, up to this seal's)
// ordered by (shard, seq). Positions never change, so the order is fixed
// once a seal is written; entries after the last seal are not in the log
// yet (an inclusion proof for one is a conflict until the next seal).
//
// An entry's leaf is the text (LeafBytes)
//
//	folio-leaf/1\n<entry id>\n<shard>\n<seq>\n<hex of its chain hash>\n
//
// and its leaf hash tlog.RecordHash(text) = SHA-256(0x00 ‖ text). The chain
// hash covers every stored column of the entry and its postings
// (ledger/hash.go), so the leaf pins the whole entry. The log's hashes are
// stored by tlog storage index (merkle_hashes: what tlog.StoredHashes
// returns for each leaf) and read back through a tlog.HashReader; each
// entry's leaf index is in merkle_leaves. A seal records the tree size and
// root after its leaves.
//
// What it costs: a seal writes about three rows per entry (two Merkle
// hashes, at storage indexes that only grow, and the entry's leaf index)
// and reads the entries' positions once. BenchmarkSeal, on the 2-core
// development machine while other sessions loaded it: 90–120 µs of wall
// time per entry (10,000 entries over four shards in 0.9–1.2 s), nearly
// all of it the database inserting rows, which a server-side INSERT of
// the same rows costs too. At the issue-14 rates (thousands of trades a
// second, two entries each) the sealer is then a sizable share of the
// database's work; storing the log as tlog tiles (256 hashes a row)
// instead of one row per stored hash would leave about one row per entry
// (its leaf index), and is the next step if it shows in `folio bench`
// (`--seal-interval 0` measures without it).
//
// # Checkpoints
//
// Each seal stores its checkpoint: the note
//
//	<origin>\n<tree size>\n<base64 root>\n
//
// signed with the operator's Ed25519 note key (note.Sign), whose name is
// the origin. `folio serve --checkpoint-key FILE` names the key file
// ("PRIVATE+KEY+…", as note.GenerateKey writes it); without the flag the
// server uses checkpoint.key in its data dir and generates it there, with
// its verifier key in checkpoint.key.pub, on first start (LoadKey). Every
// server of one database must be given the same key (their seals form one
// chain, and verify checks every checkpoint with one verifier). The
// operator keeps the private key out of the database's reach: whoever holds
// it can sign a checkpoint of any history, and whoever holds only the
// database cannot. The verifier key is public: GET
// /v1/audit/checkpoint-key, and anyone checks a checkpoint with note.Open,
// an inclusion proof with tlog.CheckRecord and a consistency proof with
// tlog.CheckTree.
//
// # Verify
//
// Verify walks the seals in order and checks each one's number, link and
// hash; that each recorded head is the entry at that position (the shard's
// seqs since the previous seal gapless, ending at an entry with that
// hash); that the entries' leaves, recomputed in the global order, give
// the stored Merkle hashes, leaf indexes, tree size and root; and each
// checkpoint's signature and body. `folio verify` and GET /v1/audit/verify
// add its problems to the ledger's report.
//
// # Balance trees
//
// [NewBalanceTree] builds a Merkle tree, with the same tlog functions and
// in memory, over closing balances: one leaf per (account, currency), the
// text [BalanceLeaf] "folio-balance/1\n<account>\n<currency>\n<amount>\n"
// (the amount as the books state it, hashed as given), leaves sorted by
// account then currency (byte order), so the same balances give the same
// root whatever order they come in. [BalanceTree.Root] is what a period
// close publishes (in its checkpoint); [BalanceTree.Prove] gives an
// account's [BalanceProof], which anyone holding the root checks with
// tlog.CheckRecord(p.Hashes, p.Size, root, p.Index, tlog.RecordHash(p.Leaf)).
// The package only computes: storing the tree's root with a period and
// serving the proofs belong to the period close (package periods, whose
// doc.go defines the balances and the period checkpoint's format).
package seal
