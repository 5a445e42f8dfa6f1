//! Alerts and alert settings in the store, on SQLite and on PostgreSQL: one firing alert
//! per (prompt, environment, version, kind) even when two evaluators fire it at once;
//! resolving once; firing again after a resolution; filters; settings checked, kept and
//! audited only when they change; `alert.fired`/`alert.resolved` reach the change feed
//! as the webhook events of those names.

mod support;

use promptops_api::{AlertKind, AlertSettings, AlertState};
use promptops_store::alerts::{AlertFilter, NewAlert};
use promptops_store::webhooks::event_of;
use promptops_store::*;
use std::sync::Arc;
use support::{actor, on_both_backends};

on_both_backends!(
    alerts_fire_once_and_resolve_once,
    settings_are_checked_and_audited_on_change
);

fn alert(kind: AlertKind, version: &str) -> NewAlert {
    NewAlert {
        prompt_id: "support.answer".into(),
        environment: "prod".into(),
        version: version.into(),
        baseline_version: Some("1.0.0".into()),
        kind,
        measured: [("error_rate".to_owned(), 0.1), ("nan".to_owned(), f64::NAN)]
            .into_iter()
            .collect(),
        test: Some("two-proportion z-test".into()),
        p_value: Some(1.2e-8),
        summary: "worse".into(),
    }
}

fn filter(state: Option<AlertState>) -> AlertFilter {
    AlertFilter {
        state,
        limit: 100,
        ..AlertFilter::default()
    }
}

async fn alerts_fire_once_and_resolve_once<S: Store>(s: Arc<S>) {
    let admin = actor("admin");
    let evaluator = actor("promptops-alerts");
    s.create_project("acme", None, &admin).await.unwrap();
    let head = s.audit_head().await.unwrap().map_or(0, |h| h.seq);

    // Two evaluators fire the same alert at the same moment: one stores it.
    let new = alert(AlertKind::ErrorRateRegression, "1.1.0");
    let (a, b) = tokio::join!(
        s.fire_alert("acme", &new, &evaluator),
        s.fire_alert("acme", &new, &evaluator)
    );
    let fired: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    let first = &fired[0];
    assert_eq!(first.state, AlertState::Firing);
    assert_eq!(first.baseline_version.as_deref(), Some("1.0.0"));
    assert_eq!(first.p_value, Some(1.2e-8));
    assert_eq!(
        first.measured.keys().collect::<Vec<_>>(),
        ["error_rate"],
        "a figure that is not a number is left out"
    );
    // Another kind, or another version, is another alert.
    let latency = s
        .fire_alert(
            "acme",
            &alert(AlertKind::LatencyRegression, "1.1.0"),
            &evaluator,
        )
        .await
        .unwrap()
        .unwrap();
    assert_ne!(latency.id, first.id);
    assert!(
        s.fire_alert(
            "acme",
            &alert(AlertKind::ErrorRateRegression, "1.2.0"),
            &evaluator
        )
        .await
        .unwrap()
        .is_some()
    );
    let unknown = s.fire_alert("nowhere", &new, &evaluator).await;
    assert!(unknown.is_err(), "{unknown:?}");

    // Resolved once; a second resolution is nothing.
    let resolved = s
        .resolve_alert("acme", first.id, "prod now serves 1.0.0", &evaluator)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(
        resolved.resolution.as_deref(),
        Some("prod now serves 1.0.0")
    );
    assert!(resolved.resolved_at.is_some());
    assert_eq!(
        s.resolve_alert("acme", first.id, "again", &evaluator)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.resolve_alert("acme", 999, "missing", &evaluator)
            .await
            .unwrap(),
        None
    );
    // Once resolved, the same condition can fire again: a new alert.
    let again = s
        .fire_alert("acme", &new, &evaluator)
        .await
        .unwrap()
        .unwrap();
    assert!(again.id > latency.id);

    let firing = s
        .alerts("acme", &filter(Some(AlertState::Firing)))
        .await
        .unwrap();
    assert_eq!(firing.len(), 3);
    assert!(firing.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let resolved_list = s
        .alerts("acme", &filter(Some(AlertState::Resolved)))
        .await
        .unwrap();
    assert_eq!(resolved_list, vec![resolved.clone()]);
    assert_eq!(s.alerts("acme", &filter(None)).await.unwrap().len(), 4);
    let v12 = s
        .alerts(
            "acme",
            &AlertFilter {
                prompt_id: Some("support.answer".into()),
                environment: Some("prod".into()),
                ..filter(None)
            },
        )
        .await
        .unwrap();
    assert_eq!(v12.len(), 4);
    let staging = AlertFilter {
        environment: Some("staging".into()),
        ..filter(None)
    };
    assert!(s.alerts("acme", &staging).await.unwrap().is_empty());
    let one = AlertFilter {
        limit: 1,
        ..filter(None)
    };
    assert_eq!(s.alerts("acme", &one).await.unwrap(), vec![again.clone()]);

    // Audited by the evaluator, and the webhook events of the same names.
    let events = s.audit_events(head, 100).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "alert.fired",
            "alert.fired",
            "alert.fired",
            "alert.resolved",
            "alert.fired"
        ]
    );
    assert!(events.iter().all(|e| e.actor == "promptops-alerts"));
    let hook = event_of(&events[3]).unwrap();
    assert_eq!(hook.kind, "alert.resolved");
    assert_eq!(hook.project, "acme");
    assert_eq!(hook.data["alert"], first.id);
    assert_eq!(hook.data["prompt"], "support.answer");
    assert_eq!(hook.data["kind"], "error_rate_regression");
    assert_eq!(hook.data["resolution"], "prod now serves 1.0.0");
    assert_eq!(event_of(&events[0]).unwrap().kind, "alert.fired");
    assert!(s.audit_verify(None).await.unwrap().ok);
}

async fn settings_are_checked_and_audited_on_change<S: Store>(s: Arc<S>) {
    let admin = actor("admin");
    s.create_project("acme", None, &admin).await.unwrap();
    assert_eq!(
        s.alert_settings("acme").await.unwrap(),
        AlertSettings::default()
    );
    let head = s.audit_head().await.unwrap().map_or(0, |h| h.seq);
    // The defaults again: nothing to record.
    s.set_alert_settings("acme", &AlertSettings::default(), &admin)
        .await
        .unwrap();
    assert_eq!(s.audit_head().await.unwrap().map_or(0, |h| h.seq), head);

    let mine = AlertSettings {
        min_sample: 500,
        alpha: 0.001,
        drift: false,
        ..AlertSettings::default()
    };
    assert_eq!(
        s.set_alert_settings("acme", &mine, &admin).await.unwrap(),
        mine
    );
    assert_eq!(s.alert_settings("acme").await.unwrap(), mine);
    let events = s.audit_events(head, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "alerts.settings_changed");
    assert_eq!(events[0].details["settings"]["min_sample"], 500);

    for bad in [
        AlertSettings {
            alpha: 0.0,
            ..mine.clone()
        },
        AlertSettings {
            alpha: f64::NAN,
            ..mine.clone()
        },
        AlertSettings {
            min_sample: 1,
            ..mine.clone()
        },
        AlertSettings {
            min_error_rate_increase: -0.1,
            ..mine.clone()
        },
        AlertSettings {
            min_latency_p95_ratio: 0.9,
            ..mine.clone()
        },
        AlertSettings {
            drift_reference_hours: 0,
            ..mine.clone()
        },
        AlertSettings {
            budget_min_calls: 0,
            ..mine.clone()
        },
    ] {
        let r = s.set_alert_settings("acme", &bad, &admin).await;
        assert!(
            matches!(r, Err(StoreError::Invalid { .. })),
            "{bad:?}: {r:?}"
        );
    }
    assert_eq!(
        s.alert_settings("acme").await.unwrap(),
        mine,
        "nothing kept"
    );
    let r = s.set_alert_settings("nowhere", &mine, &admin).await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
}
