//! Several API servers on one PostgreSQL database, as behind a load balancer.

use labshare_persistence::migrate;
use labshare_tests::EmptyPostgres;

#[test]
fn servers_starting_at_once_migrate_one_after_the_other() {
    let Some(db) = EmptyPostgres::create() else {
        return;
    };
    let applied: Vec<usize> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = db.url.establish().unwrap_or_else(|e| panic!("connect: {e}"));
                    migrate(&mut conn).unwrap_or_else(|e| panic!("a server failed to migrate: {e}"))
                })
            })
            .collect();
        starts
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("panicked")))
            .collect()
    });
    // One server applied every migration; the others found nothing to do.
    let all = applied.iter().copied().max().unwrap_or(0);
    assert!(all > 10, "{applied:?}");
    assert_eq!(applied.iter().filter(|n| **n == all).count(), 1, "{applied:?}");
    assert_eq!(applied.iter().filter(|n| **n == 0).count(), 3, "{applied:?}");
}
