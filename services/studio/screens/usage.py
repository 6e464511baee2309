"""Usage: the gateway's traffic over time (latency percentiles, tokens, cost, error rate),
the traces' mean scores per prompt version and model, and its cost alerts, configured
and fired. Pages degrade to a readable note when the
server has no gateway (or an older one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import altair as alt
import streamlit as st

from services.studio.api import ApiError, EndpointMissing, StudioAPI
from services.studio.ui import api, call, fired_table, flash, show_error, show_flash, to_frame
from services.studio.views.badges import ms, pct, usd
from services.studio.views.evaluators import score_names, score_series_rows
from services.studio.views.usage import (
    alert_rows,
    firing_rows,
    latency_rows,
    series_rows,
    totals,
)

WINDOWS = {"last 24 hours": (timedelta(days=1), "hour"),
           "last 7 days": (timedelta(days=7), "hour"),
           "last 30 days": (timedelta(days=30), "day")}
GROUPS = {"model": "model", "app": "application", "key": "gateway key",
          "version": "prompt version (a split's variants)"}


def metrics_section(client: StudioAPI) -> dict | None:
    c1, c2 = st.columns(2)
    window = c1.selectbox("Window", list(WINDOWS), key="usage_window")
    group_by = c2.selectbox("Group by", list(GROUPS), format_func=GROUPS.get,
                            key="usage_group")
    span, interval = WINDOWS[window]
    since = (datetime.now(UTC) - span).isoformat()
    try:
        answer = client.usage(group_by=group_by, interval=interval, since=since)
    except EndpointMissing:
        st.info(f"No gateway metrics at {client.gateway_url}: this server does not serve "
                "`/metrics/usage`. Start the gateway (or set HARNESS_GATEWAY_URL to it) to "
                "see traffic here.", icon="ℹ️")
        return None
    except ApiError as exc:
        show_error(exc)
        return None
    items = answer.get("items") or []
    if not items:
        st.info(f"No gateway traffic in the {window}.")
        return answer
    t = totals(items)
    cols = st.columns(5)
    cols[0].metric("Requests", f"{t['requests']:,}")
    cols[1].metric("Error rate", pct(t["error_rate"], 1))
    cols[2].metric("Tokens", f"{t['tokens']:,}")
    cols[3].metric("Cost", usd(t["cost_usd"], t["cost_unknown"]))
    p95 = [i["latency_ms"]["p95"] for i in items if (i.get("latency_ms") or {}).get("p95")]
    cols[4].metric("Worst p95 latency", ms(max(p95)) if p95 else "—")

    lat = to_frame(latency_rows(items, group_by))
    series = to_frame(series_rows(items, group_by))
    x = alt.X("bucket:T", title=None)
    st.markdown("**Latency percentiles (ms)**")
    st.altair_chart(alt.Chart(lat).mark_line(point=True).encode(
        x=x, y=alt.Y("ms:Q", title="ms"), color=alt.Color("group:N", title=GROUPS[group_by]),
        strokeDash=alt.StrokeDash("percentile:N"),
        tooltip=["bucket:T", "group", "percentile", alt.Tooltip("ms:Q", format=".0f")]),
        width="stretch")
    left, right = st.columns(2)
    with left:
        st.markdown("**Tokens**")
        tokens = series.melt(id_vars=["bucket", "group"],
                             value_vars=["prompt tokens", "completion tokens"],
                             var_name="kind", value_name="tokens")
        st.altair_chart(alt.Chart(tokens).mark_bar().encode(
            x=x, y=alt.Y("sum(tokens):Q", title="tokens"), color="kind:N",
            tooltip=["bucket:T", "group", "kind", "tokens"]), width="stretch")
    with right:
        st.markdown("**Cost (USD)**")
        st.altair_chart(alt.Chart(series.dropna(subset=["cost"])).mark_bar().encode(
            x=x, y=alt.Y("sum(cost):Q", title="USD"),
            color=alt.Color("group:N", title=GROUPS[group_by]),
            tooltip=["bucket:T", "group", alt.Tooltip("cost:Q", format=".4f")]),
            width="stretch")
    st.markdown("**Error rate**")
    st.altair_chart(alt.Chart(series).mark_line(point=True).encode(
        x=x, y=alt.Y("error rate:Q", axis=alt.Axis(format="%"), title="errors"),
        color=alt.Color("group:N", title=GROUPS[group_by]),
        tooltip=["bucket:T", "group", "requests", "errors",
                 alt.Tooltip("error rate:Q", format=".1%")]), width="stretch")
    return answer


def scores_section(answer: dict) -> None:
    """The traces' mean score per bucket, one line per prompt version × model (people's
    scores and online evaluators')."""
    scores = answer.get("scores") or []
    st.markdown("### Scores")
    if not scores:
        st.caption("No scored traces in this window: scores come from online evaluators "
                   "and from people (Traces and Annotate pages).")
        return
    names = score_names(scores)
    name = st.selectbox("Score", names, key="usage_score")
    rows = to_frame(score_series_rows(scores, name))
    st.altair_chart(alt.Chart(rows).mark_line(point=True).encode(
        x=alt.X("bucket:T", title=None), y=alt.Y("mean:Q", title=f"mean {name}"),
        color=alt.Color("series:N", title="prompt version · model"),
        strokeDash=alt.StrokeDash("source:N"),
        tooltip=["bucket:T", "prompt version", "model", "source",
                 alt.Tooltip("mean:Q", format=".3f"), "count"]), width="stretch")


def alerts_section(client: StudioAPI) -> None:
    st.markdown("### Cost alerts")
    try:
        alerts = client.alerts()
    except EndpointMissing:
        st.info("This server has no cost alerts (no `/gateway/alerts`).", icon="ℹ️")
        return
    except ApiError as exc:
        show_error(exc)
        return
    if alerts:
        st.dataframe(to_frame(alert_rows(alerts)), hide_index=True, width="stretch")
    else:
        st.info("No cost alerts configured.")
    fired_table(call(client.alert_firings) or [], firing_rows)
    new_alert_form(client)


def new_alert_form(client: StudioAPI) -> None:
    with st.expander("➕ New cost alert"), st.form("new_alert"):
        c1, c2, c3 = st.columns(3)
        scope = c1.selectbox("On", ["total", "app", "key"], key="alert_scope",
                             format_func={"total": "all calls", "app": "an application",
                                          "key": "a gateway key"}.get)
        period = c2.selectbox("Per", ["day", "month"], key="alert_period")
        threshold = c3.number_input("Threshold (USD)", min_value=0.0, value=10.0, step=1.0,
                                    key="alert_threshold")
        target = st.text_input("Application name or key id (not for all calls)",
                               key="alert_target")
        name = st.text_input("Name", key="alert_name")
        webhook = st.text_input("Webhook URL (optional)", key="alert_webhook")
        if st.form_submit_button("Create alert"):
            created = call(client.create_alert, scope=scope, period=period,
                           threshold_usd=threshold, target=target.strip() or None,
                           name=name.strip() or None, webhook_url=webhook.strip() or None)
            if created:
                flash(f"Alert created: {created.get('name') or scope} over "
                      f"{usd(threshold)} per {period}.")
                st.rerun()


def main() -> None:
    st.title("📈 Usage")
    show_flash()
    client = api()
    answer = metrics_section(client)
    if answer is not None:
        scores_section(answer)
    alerts_section(client)


main()
