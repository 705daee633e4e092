// Package outbox is the notifications' delivery engine: it turns the
// ledger's events into messages through the channels' Composers, keeps them
// in a queue in its own SQLite file, and hands each to its channel's Sender.
//
// Messages are a projection of the log. The outbox follows the claim
// streams, the portal's link streams (the customer's language) and the
// preference streams (quiet) in log order and for each claim event asks
// every Composer for messages, telling it the claim as the event left it:
// the states of the claims seen lately are kept in memory, any other is
// folded again from its stream in the store, so that the outbox stores no
// copy of the claims. The
// messages and the checkpoint commit in one transaction (fsynced), so a
// crash never loses an event's messages nor queues them twice: a message
// id is derived from its event, channel and recipient, and a message
// already queued is left alone. A new outbox starts at the end of the log
// (it learns the claims but mails no history) unless Config.FromStart.
// Messages no event causes (a private link, a desk alert) come through
// Enqueue, durable when it returns. Non-essential messages to the customer
// (e-mail, SMS) of a claim set quiet are dropped.
//
// Delivery: at most Config.Concurrency deliveries run at once. Messages of
// one OrderKey go strictly in queue order: the next waits until the one
// before is sent or failed for good; other messages go in parallel. On a
// channel whose Sender is a notify.BatchSender, the pending messages of one
// recipient go together once the oldest has waited Config.BatchWindow. A
// failed attempt is retried after an exponential backoff with full jitter
// (RetryMin doubling up to RetryMax) until GiveUpAfter since the first
// attempt; an error marked notify.Permanent fails at once. Every attempt's
// error is kept (Attempts). New messages wake the senders at once; a timer
// brings the next retry.
//
// One sender across instances: every instance runs its own outbox over the
// same log and queues the same messages under the same ids (Config.Alone
// says there is no other instance: then nothing is claimed). Before sending,
// an instance claims the message in the event store: it appends
// notify.delivery_claimed.v1 {instance, lease_until} to the stream
// notify-delivery-<id> (-<round> after a replay) expecting no stream, or
// expecting the last claim when its lease ran out. Once the Sender accepted
// the message it appends notify.delivery_sent.v1 after its claim. An
// instance that loses the race reads the stream: sent elsewhere marks the
// row sent; a live lease of another postpones the message to the lease's
// end. The only message that may be sent twice is one whose instance died
// (or overran its Lease) between the Sender's acceptance and the sent
// event; it goes again with the same id, which receivers can drop. The
// delivery events are sealed into the audit hash chain and hold no
// content, address nor error text.
//
// Personal data: when a customer's data is erased, the same transaction
// blanks their claims' contact details, the addresses and content of all
// their messages and their attempts' errors; those not yet sent become
// "erased" and are never sent. The content of messages sent more than
// KeepContent ago is blanked (ids and statuses stay). Replay (a recipient's
// messages from a log position) and Retry (one failed message) put messages
// back as a new round under the same id; blanked messages cannot be.
//
// Metrics: rmaledger_notify_delivery_lag_seconds{channel} (the event's time
// to the hand-over), counters of messages queued, sent and failed per
// channel, and gauges of messages pending and failed.
package outbox
