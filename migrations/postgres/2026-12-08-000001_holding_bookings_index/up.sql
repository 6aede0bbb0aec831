-- The slot-holding bookings alone (a few per instrument, the future ones):
-- the overlap check of every new booking and every availability read look
-- only at these, not at the instrument's whole history, which grows with
-- every year of use. A query uses it when it names the statuses as written
-- here (as literals: a bound parameter does not prove the condition).
CREATE INDEX bookings_holding ON bookings (instrument_id, starts_at)
WHERE status IN ('pending', 'approved', 'in_use');
