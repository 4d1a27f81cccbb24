-- Requests out whose answer may free a bucket's last token (a slot such
-- as Lingxing's, given back by the answer), counted across every worker:
-- a job deferred by that bucket looks again soon instead of waiting out the
-- whole refill. A hint: a worker killed with such a request out leaves it
-- counted, which only makes waiting jobs look again sooner.
ALTER TABLE buckets ADD COLUMN in_flight BIGINT NOT NULL DEFAULT 0;
