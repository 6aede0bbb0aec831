DROP TABLE samples;
DROP TABLE service_orders;
DROP TABLE service_item_instruments;
DROP TABLE service_items;
