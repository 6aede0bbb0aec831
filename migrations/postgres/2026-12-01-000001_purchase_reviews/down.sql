DROP TABLE purchase_review_instruments;
DROP TABLE purchase_reviews;
DROP FUNCTION purchase_reviews_frozen();
