// Package seal gives the sharded journal one tamper-evident order and
// proofs over it: seals, an append-only Merkle log in the RFC 6962 shape
// (golang.org/x/mod/sumdb/tlog, the certificate-transparency
// construction) and signed checkpoints in the C2SP tlog-checkpoint /
// signed-note format (golang.org/x/mod/sumdb/note). It owns the tables
// seals, seal_heads (migration 028), merkle_hash_runs (migration 035) and
// merkle_upper_runs (migration 050), all append-only: the server's role may read and insert, never update or
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
// appended twice: seal n+1 appends exactly the entries past seal n's
// heads up to its own, and Verify checks that each seal's tree grew by
// exactly that many leaves. `folio serve` seals
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
// (ledger/hash.go), so the leaf pins the whole entry. A seal records the
// tree size and root after its leaves.
//
// Nothing stores an entry's leaf index: it follows from the seals
// (leafIndex). The entry (shard s, seq q) was appended by the first seal k
// whose head of s is at or past q (seal_heads' index (shard, seq, seal)
// finds it), after the tree of seal k-1 and, within seal k, after the
// entries of the lower shards and its own shard's before it:
//
//	leaf = size(k-1) + Σ_{s' < s} (head_k(s') - head_{k-1}(s')) + (q - head_{k-1}(s)) - 1
//
// (a shard absent from seal k-1 counts from 0; Verify checks that no shard
// ever drops out of the heads, and that each tree grew by exactly the
// entries its heads moved past, so the formula names the leaf the seal
// appended).
//
// The log's hashes are those tlog.StoredHashes returns for each leaf, by
// tlog storage index. The hashes a seal adds are consecutive storage
// indexes (from tlog.StoredHashCount of the old size to that of the new),
// so they are stored in runs: a row of merkle_hash_runs holds first_idx
// and the concatenated 32-byte hashes at first_idx, first_idx+1, …; a seal
// writes its hashes in runs of at most MaxRunHashes (1024, 32 KiB a row:
// a seal of MaxSealLeaves entries writes about 200 rows). The hash at
// storage index i is in the run with the greatest first_idx <= i; the
// tlog.HashReader (dbHashes) finds that run for every index of a proof in
// one statement (a LATERAL ... ORDER BY first_idx DESC LIMIT 1 on the
// primary key) and has the database slice out the 32 bytes, so a proof
// reads a few dozen short slices (PostgreSQL fetches only the TOAST chunks
// a slice needs of an uncompressed value, and random hashes never
// compress). Verify reads the runs in order and checks exactly what the
// reader sees, and that runs neither overlap nor leave gaps. Runs rather
// than tlog tiles: a tile is only final once full, so a seal that ends
// inside a tile would have to rewrite it (an UPDATE on a history table)
// or store every partial version again; a run is written once, holds
// exactly the hashes its seal computed, and the primary key is sequential
// only at the rate of a few rows per seal (no hash-sharded index needed on
// CockroachDB).
//
// Migration 035 moved the log of 028 (one merkle_hashes row per stored
// hash, one merkle_leaves row per entry) into runs, a run per 1024 storage
// indexes (such a run may span seals; Verify and the reader do not care),
// and dropped both tables. It drops merkle_leaves before copying: a sealer
// of an older version, still running while the migration does, writes
// merkle_leaves last in its transaction, so once the DROP has its lock
// every such transaction either committed (its hashes are copied) or fails
// from then on. Servers of older versions cannot seal or prove against a
// migrated database; upgrade them all.
//
// What it costs (pg_stat_statements over `folio bench --trades 20000
// --users 5000 --journal-shards 4`, 40,000 entries, two runs of each on
// the 2-core development machine shared with other sessions, 2026-12-04):
//
//	layout                                  rows/trade   WAL/trade   time of its INSERTs
//	028: a row per stored hash and entry    6.0          1,133 B     1.1–2.2 s
//	035: runs of hashes, nothing per entry  0.004        137–139 B   0.09–0.23 s
//
// Before: INSERT INTO merkle_hashes 79,995 rows and 12.97 MB of WAL,
// INSERT INTO merkle_leaves 40,000 rows and 9.69 MB. After: INSERT INTO
// merkle_hash_runs 79–81 rows and 2.75–2.77 MB — the hashes themselves
// (two of 32 bytes per entry) and 8% of row and TOAST overhead; the seal
// and its heads add a few hundred bytes per seal. The bench's totals per
// trade went from 10.3–10.4 KB of WAL and 24–25 rows to 9.3–9.5 KB and
// 19 rows. BenchmarkSeal (10,000 entries over four shards in one seal):
// 36.5 µs of wall time per entry before, 18.8 µs after, now mostly
// reading the entries' positions and hashing. What is left per entry is
// its two hashes; storing only the interior ones (leaf hashes recomputed
// from the entries when a proof needs one) would halve it, at the price of
// an entry read per proof.
//
// # The Merkle log's low levels
//
// Since migration 050 a seal stores only the hashes of level LowLevels (5)
// and up: 1 of every 16 of a tree's hashes (a node of level 5 is the root
// of 32 leaves), ~4 B per entry instead of ~64. They go to
// merkle_upper_runs, in runs like the ones above, by their storage index in
// the tree whose leaves are the level-5 nodes (upperIndex: taking the
// lower levels out of tlog's storage order leaves that tree's storage
// order, so a seal's new upper hashes are consecutive there too). The
// reader (dbHashes) answers a hash below the end of merkle_hash_runs from
// there (what seals stored before the migration, every level: nothing is
// moved), a hash of level 5 and up from the upper runs, and a lower one by
// recomputing it from its leaves, at most 16: each leaf's entry is found
// from the seal that appended it (the first seal whose tree is larger
// than the leaf: index seals_tree_size; then the shards' heads, as in
// leafIndex) and read by position (ledger.ShardPositions). An inclusion
// proof recomputes at most 1+2+4+8+16 = 31 leaves (the sibling subtrees
// of the leaf's block of 32), a consistency proof about twice that, and a
// seal the tree's right edge (fewer than 32 leaves). The price is that a
// proof reads entries; the leaves' text is the entries' positions and
// chain hashes, which verify checks anyway. Measured with `folio bench`
// (300k trades, 8 × 500): the log's TOAST writes ~146 B of WAL a trade
// before; see the README's dated rows (2026-12-07, ninth session) for after.
// Verify checks the upper runs against the recomputed tree like the runs
// above (overlaps, gaps, stray runs), and merkle_hash_runs for the hashes
// below its end.
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
// hash; no shard dropped from the heads); that the tree grew by exactly
// the entries the heads moved past; that the entries' leaves, recomputed
// in the global order, give the stored Merkle hashes (as the reader finds
// them in the runs; runs that overlap, leave gaps, are not whole hashes or
// lie beyond the last tree are problems too), tree size and root; and each
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
