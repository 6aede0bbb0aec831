DROP INDEX bookings_holding;
