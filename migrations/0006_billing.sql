-- Payment problems of a subscription (issue 12 item 6): set by Paddle's
-- `transaction.payment_failed`, `transaction.past_due` and `subscription.past_due`, cleared by
-- the events that end them (a completed transaction of the subscription, or a subscription event
-- whose status is no longer `past_due`). Only a banner and the API answer read them: the tier
-- stays in force until Paddle's own dunning pauses or cancels the subscription.
--
-- payment_problem_kind   'payment_failed' | 'past_due', NULL while there is no problem
-- payment_problem_since  Unix ms: `occurred_at` of the event that started the problem
-- payment_event_us       `occurred_at` (µs) of the last event applied to these two columns;
--                        an older payment event arriving later changes nothing

ALTER TABLE subscriptions ADD COLUMN payment_problem_kind TEXT
  CHECK (payment_problem_kind IN ('payment_failed', 'past_due'));
ALTER TABLE subscriptions ADD COLUMN payment_problem_since INTEGER;
ALTER TABLE subscriptions ADD COLUMN payment_event_us INTEGER;
