DROP TRIGGER bookings_no_overlap_update;
DROP TRIGGER bookings_no_overlap_insert;
DROP TABLE bookings;
DROP TABLE qualifications;
DROP TABLE blackouts;
DROP TABLE opening_hours;
DROP TABLE booking_rules;
