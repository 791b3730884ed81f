"""Feedback on real Redis: ask turns are logged with a TTL; votes move bounded, decaying weights."""

from __future__ import annotations

import pytest

from memory.errors import InvalidInput, NotFound
from overlay.choosing.feedback import learned_boosts, record_feedback, record_turn, turn_log
from overlay.services import Services

Q = "How many days of paid annual leave do employees get?"


@pytest.fixture
def services(services_both: Services) -> Services:
    """Every test here runs on the single Redis server and on the Redis Cluster."""
    return services_both


def _turn(services: Services) -> str:
    rec = record_turn(services, Q, ["c1", "c2", "c3"], ["c2"], "docs")
    return rec.turn_id


def test_turn_is_logged_with_a_ttl(services: Services) -> None:
    tid = _turn(services)
    rec = turn_log(services).get(tid)
    assert rec is not None and rec.query == Q and rec.candidates == ["c1", "c2", "c3"]
    assert rec.cited == ["c2"] and rec.collection == "docs"
    ttl = services.redis.client.ttl(turn_log(services).key(tid))
    assert 0 < ttl <= services.settings.feedback.turn_ttl_seconds
    assert turn_log(services).get("turn_missing") is None


def test_helpful_vote_boosts_the_cited_candidate_for_the_query_terms(services: Services) -> None:
    tid = _turn(services)
    result = record_feedback(services, tid, helpful=True)
    assert result.candidates == ["c2"] and "leav" in result.terms
    step = services.settings.feedback.step
    assert result.boosts["c2"] == pytest.approx(step, rel=1e-3)
    similar = learned_boosts(services, "paid leave days", ["c1", "c2"])
    assert set(similar) == {"c2"} and 0 < similar["c2"] <= step
    assert learned_boosts(services, "founder of the company", ["c2"]) == {}
    other_tenant = services.for_tenant(services.tenant + "x")
    assert learned_boosts(other_tenant, Q, ["c2"]) == {}


def test_votes_are_bounded_and_can_target_one_candidate(services: Services) -> None:
    tid = _turn(services)
    for _ in range(8):
        result = record_feedback(services, tid, helpful=False, candidate_id="c3")
    assert result.candidates == ["c3"]
    assert result.boosts["c3"] == pytest.approx(-1.0)
    assert learned_boosts(services, Q, ["c3"])["c3"] == pytest.approx(-1.0)


def test_unknown_turn_and_foreign_candidate_are_refused(services: Services) -> None:
    with pytest.raises(NotFound):
        record_feedback(services, "turn_nope", helpful=True)
    tid = _turn(services)
    with pytest.raises(InvalidInput):
        record_feedback(services, tid, helpful=True, candidate_id="not-in-turn")


def test_feedback_decays_with_its_half_life(services: Services) -> None:
    now = [1_700_000_000.0]
    half_life = services.settings.feedback.half_life_days * 86400
    step = services.settings.feedback.step
    tid = _turn(services)
    first = record_feedback(services, tid, helpful=True, clock=lambda: now[0]).boosts["c2"]
    assert first == pytest.approx(step, rel=1e-3)
    now[0] += 2 * half_life
    later = learned_boosts(services, Q, ["c2"], clock=lambda: now[0])["c2"]
    assert later == pytest.approx(first / 4, rel=1e-6)  # two half-lives: a quarter is left
    # a clock behind the vote's stamp never amplifies it
    assert learned_boosts(services, Q, ["c2"], clock=lambda: 0.0)["c2"] == pytest.approx(first)
    again = record_feedback(services, tid, helpful=True, clock=lambda: now[0]).boosts["c2"]
    assert again == pytest.approx(later + step, rel=1e-6)  # re-based, then bumped
    now[0] += half_life
    assert learned_boosts(services, Q, ["c2"], clock=lambda: now[0])["c2"] == pytest.approx(
        again / 2, rel=1e-6
    )
