// Package redisstore keeps on Redis what the replicas of a payment service
// must share, through the interfaces of package mpesa:
//
//   - Credentials, an mpesa.CredentialStore: the gateway credential (the
//     OpenAPI session, the Daraja token) of an application, so that the
//     replicas hold one between them and exactly one refreshes it;
//   - Dedup, an mpesa.DedupStore: which callbacks were processed, so that
//     a result the gateway delivers to several replicas is processed once;
//   - ResultBus, an mpesa.ResultBus: the results, so that a result any
//     replica receives reaches an Await on any other.
//
// One Store, made by New on a go-redis client, gives all three:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(rdb, redisstore.WithPrefix("shop:"))
//	if err != nil { ... }
//	defer store.Close()
//	client, err := mpesa.NewClient(apiKey, mpesa.WithMarket(mpesa.MarketTanzania),
//		mpesa.WithCredentialStore(store.Credentials()))
//	hub := mpesa.NewResults(0, 0, mpesa.ShareResults(store.Results()))
//	handler, err := mpesa.NewHandler(save, mpesa.Deduplicate(store.Dedup()), mpesa.FeedResults(hub))
//
// The Redis client must have ContextTimeoutEnabled set: the store bounds
// every command with its timeout (WithTimeout, default one second), so that
// an unreachable Redis fails fast instead of holding payments up.
//
// # Keys
//
// Every key and channel starts with the prefix (WithPrefix, default
// "mpesa:"; replicas of one service use the same). KEY is the key the mpesa
// package gives: "mpesa/credential/GATEWAY/ENVIRONMENT/HASH" for a
// credential (a hash of the API key, never the key), "result/…" or "tx/…"
// for the de-duplication, and a result's ID (OriginalConversationID or
// ThirdPartyConversationID). A KEY longer than 200 bytes, or holding '{' or
// '}', is replaced by "sha256:" and its hex hash.
//
//	PREFIX credential:{KEY}        the credential, as JSON, until it expires
//	PREFIX credential:{KEY}:lease  the refresh lease: the fence of its holder, for the lease's ttl
//	PREFIX credential:{KEY}:fence  the fence counter, for 30 days after the last lease
//	PREFIX dedup:KEY               "claimed:OWNER" for the claim lease, then "done:OWNER" for the retention
//	PREFIX result:ID               a result, as JSON, for the result retention
//	PREFIX credential-changed      channel: the KEY of a credential stored or invalidated
//	PREFIX result-published        channel: a result, as JSON
//
// The three keys of a credential share a hash tag, so that its scripts
// touch one slot of a Redis Cluster.
//
// # Scripts
//
// Each step that reads and then writes is one Lua script, atomic on the
// server:
//
//   - lease: if the lease key exists, answer 0; if the credential is not
//     the one the caller's process last loaded (compared by SHA-1; another
//     replica refreshed in between), answer -1, which Lease reports as not
//     granted, so that the caller waits and loads it; else INCR the fence
//     (a missing counter starts from the server's clock in microseconds, so
//     that a fence granted after Redis lost its data is still above any
//     granted before), SET the lease to the fence NX PX ttl, and answer the
//     fence;
//   - store: if the fence counter is not the caller's fence, answer 0 (the
//     client gets mpesa.ErrStaleLease: a replica whose lease ran out cannot
//     overwrite a newer credential); else SET the credential PX until it
//     expires, DEL the lease if it is the caller's, PUBLISH the KEY;
//   - invalidate: if the credential is still the value the caller read
//     (and found to hold the refused secret), DEL it and PUBLISH the KEY;
//   - claim: no value: SET "claimed:OWNER" PX lease and answer acquired; a
//     "done:" value: answer done; otherwise in progress;
//   - complete: no value or "claimed:OWNER": SET "done:OWNER" PX retention;
//     "done:OWNER" already: nothing; anything else (the lease ran out and
//     another delivery took the key): ErrClaimLost;
//   - release: "claimed:OWNER": DEL; anything else: nothing.
//
// Publish sets a result under each of its IDs, then publishes it, in one
// pipeline. The waits subscribe first, then read: Credentials.Wait returns
// when the KEY is published or nobody holds the lease, ResultBus.Wait when
// the result is in Redis or is published. One subscription per Store
// carries every wait; when it is lost and comes back, every waiter reads
// Redis again, and every waiter also reads Redis each poll interval
// (WithPollInterval), so that a lost message delays a waiter, never hangs
// it.
//
// # Failure behaviour
//
// Redis unreachable at a credential refresh: Load, Lease, Store or Wait
// fails within the store's timeout; the mpesa client then fetches a
// credential of its own from the gateway and logs that it does so, and
// payments go on. At steady state a call touches no store at all. A
// credential the gateway refused is remembered by the replica that was told
// so, until it expires: should Redis not have heard of the refusal, that
// replica does not load it again, and removes it from Redis.
//
// Redis unreachable at a callback: Claim fails within the store's timeout,
// and the mpesa.Handler answers 503 with Retry-After, so that the gateway
// delivers the result again; it is processed once Redis is back. Nothing is
// processed twice: a result is processed only under a claim. A claim,
// completion or release that fails (Redis went away mid-callback, or
// applied the claim and lost the answer) is tried again in the background
// until Redis answers or the claim's lease ends: a result processed just
// before Redis went away is still marked done, and a claim the handler
// does not know it holds is released, so that redeliveries are neither
// processed again nor held up for the lease.
//
// A replica that dies while it processes a result keeps its claim until the
// claim lease runs out (WithClaimLease); deliveries meanwhile are answered
// 503, and the first one after it is processed by another replica. The
// lease must outlast the slowest processing: if it runs out while a replica
// still processes, another may process the result too, and the first
// replica's Complete returns ErrClaimLost, which the Handler logs.
//
// Redis restarted: the store loses nothing beyond what Redis lost.
// Commands fail while it is away (and behave as above); the subscription
// comes back by itself and the waiters read Redis again, so an Await in
// progress still gets a result published after the restart. A Redis
// without persistence forgets at a restart the credential (the replicas
// fetch one new one between them, under a new lease), the results kept for
// late Awaits, and which results were processed: a redelivery of a result
// processed before the restart is then processed again. Run Redis with
// appendonly yes (appendfsync always for no loss at all) when that
// matters.
//
// # Encryption
//
// The session IDs and tokens are secrets. With WithEncryption the store
// seals each with AES-GCM under the current EncryptionKey, with a random
// nonce, and keeps the key's ID beside it, so that keys can rotate; the KEY
// and the credential's times are authenticated with it, so that a sealed
// value cannot be moved under another KEY. Without it the credential is
// kept in plain text, readable by anyone who can read Redis or its backups.
//
// No error, log line or fmt verb of this package shows a credential or an
// encryption key: errors and logs name keys and Redis's errors only, and
// Store, EncryptionKey and the stores print without their secrets.
package redisstore
