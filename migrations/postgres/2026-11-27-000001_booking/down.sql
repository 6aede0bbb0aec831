DROP TABLE bookings;
DROP TABLE qualifications;
DROP TABLE blackouts;
DROP TABLE opening_hours;
DROP TABLE booking_rules;
