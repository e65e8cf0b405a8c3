"""Schema migrations, applied in order; ``PRAGMA user_version`` records the last one.

Rule: a migration is never edited once released; a change is a new entry at the end.
Columns named ``*_enc`` hold values sealed by ``node.keys.crypto.RowCrypto``; columns named
``*_tag`` hold keyed tags. Nothing else here holds member data or report text, and no
clear column holds a time more exact than ``node.store.sealed`` allows. A migration is
an SQL script, or a coroutine given the connection and the row crypto (for values it
must seal); each runs in one transaction, before foreign keys are switched on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

from ..keys.crypto import RowCrypto
from .pages import fill_facets, tag_warnings
from .sealed import seal_metadata

Migration = str | Callable[[aiosqlite.Connection, RowCrypto], Awaitable[None]]

MIGRATIONS: tuple[Migration, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    -- The changes feed: every alert and retraction this node serves gets a position.
    CREATE TABLE log (
        pos INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('a', 'r')),
        id BLOB NOT NULL UNIQUE
    );
    -- One row per alert id ever seen and not yet expired. A row whose state is not
    -- 'active' is a tombstone: it has no body, and it keeps a late copy out.
    CREATE TABLE alerts (
        id BLOB PRIMARY KEY,
        origin BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('active', 'retracted', 'superseded')),
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        hops INTEGER NOT NULL,
        max_hops INTEGER NOT NULL,
        tlp TEXT NOT NULL,
        received_from BLOB,
        region_tag BLOB,
        stored_at INTEGER NOT NULL,
        body_enc BLOB
    ) WITHOUT ROWID;
    CREATE INDEX alerts_expires ON alerts (expires);
    CREATE INDEX alerts_origin ON alerts (origin);
    CREATE INDEX alerts_region ON alerts (region_tag, created);
    CREATE TABLE indicators (
        tag BLOB NOT NULL,
        alert_id BLOB NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        PRIMARY KEY (tag, alert_id)
    ) WITHOUT ROWID;
    CREATE INDEX indicators_alert ON indicators (alert_id);
    CREATE TABLE retractions (
        alert_id BLOB PRIMARY KEY,
        id BLOB NOT NULL UNIQUE,
        origin BLOB NOT NULL,
        expires INTEGER NOT NULL,
        hops INTEGER NOT NULL,
        received_from BLOB,
        stored_at INTEGER NOT NULL,
        envelope_enc BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX retractions_expires ON retractions (expires);
    CREATE TABLE blocked_origins (
        origin BLOB PRIMARY KEY,
        created INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE peers (
        key BLOB PRIMARY KEY,
        name_tag BLOB NOT NULL,
        card_enc BLOB NOT NULL,
        accept TEXT NOT NULL CHECK (accept IN ('none', 'direct', 'relay')),
        share INTEGER NOT NULL,
        suspended INTEGER NOT NULL DEFAULT 0,
        proxy TEXT,
        cursor INTEGER NOT NULL DEFAULT 0,
        epoch BLOB,
        last_sync INTEGER,
        items_received INTEGER NOT NULL DEFAULT 0,
        lag INTEGER,
        last_error TEXT,
        added INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE members (
        id INTEGER PRIMARY KEY,
        nick_tag BLOB NOT NULL UNIQUE,
        nick_enc BLOB NOT NULL,
        pass_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('member', 'caseworker', 'admin')),
        created INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE invites (
        code_tag BLOB PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('member', 'caseworker', 'admin')),
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        member_id INTEGER REFERENCES members (id) ON DELETE CASCADE,
        created INTEGER NOT NULL,
        status TEXT NOT NULL,
        alert_id BLOB,
        body_enc BLOB NOT NULL
    );
    CREATE INDEX reports_member ON reports (member_id);
    CREATE INDEX reports_created ON reports (created);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        entry_enc BLOB NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,  # 2: keys peers rotated away from (never served back to, retired after a grace
    # period) and rotation statements still to deliver to a peer.
    """
    CREATE TABLE peer_keys (
        old BLOB PRIMARY KEY,
        peer BLOB NOT NULL,
        rotated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX peer_keys_peer ON peer_keys (peer);
    CREATE TABLE rotation_outbox (
        id INTEGER PRIMARY KEY,
        peer BLOB NOT NULL,
        statement BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error TEXT
    );
    CREATE INDEX rotation_outbox_peer ON rotation_outbox (peer, id);
    """,
    # 3: a peer's last error as (code, message, time), and the items refused from it.
    """
    ALTER TABLE peers ADD COLUMN last_error_code TEXT;
    ALTER TABLE peers ADD COLUMN last_error_at INTEGER;
    ALTER TABLE peers ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE peers ADD COLUMN last_pull_refused INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE peers ADD COLUMN last_refusal_code TEXT;
    ALTER TABLE peers ADD COLUMN last_refusal_at INTEGER;
    """,
    # 4: the network blinding keys that indicators of unexpired alerts were made with,
    # so that a check blinds once per key in use (docs/protocol.md, section 6).
    """
    CREATE TABLE indicator_keys (
        suite INTEGER NOT NULL,
        key_id BLOB NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (suite, key_id)
    ) WITHOUT ROWID;
    """,
    # 5: passphrase verifiers, report states (status and alert) and settings sealed;
    # times of member actions to the day, of stored alerts to the hour (issue 12, item 9).
    seal_metadata,
    # 6: a trust-list entry's id, which outlives key rotations (rate limits, replay
    # windows and the rotation limit bind to it; never reused: ``peer_serial`` in meta
    # counts them), and when it last took a rotation (this node's clock); rotation
    # statements known here, once per old key, charged to the entry that brought them;
    # the nonces of recent signed requests, so that a replay is refused after a restart.
    # Nonces are random and say only that a peer called within the last two minutes.
    """
    ALTER TABLE peers ADD COLUMN entry_id INTEGER;
    ALTER TABLE peers ADD COLUMN rotation_taken_at INTEGER;
    UPDATE peers SET entry_id = (
        SELECT count(*) FROM peers AS p
        WHERE p.added < peers.added OR (p.added = peers.added AND p.key <= peers.key)
    );
    CREATE UNIQUE INDEX peers_entry ON peers (entry_id);
    INSERT OR REPLACE INTO meta (name, value)
        VALUES ('peer_serial', (SELECT count(*) FROM peers));
    CREATE TABLE rotation_statements (
        old BLOB PRIMARY KEY,
        new BLOB NOT NULL,
        rotated_at INTEGER NOT NULL,
        via INTEGER NOT NULL,
        statement BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX rotation_statements_via ON rotation_statements (via);
    CREATE TABLE request_nonces (
        entry_id INTEGER NOT NULL,
        nonce BLOB NOT NULL,
        ts INTEGER NOT NULL,
        until INTEGER NOT NULL,
        PRIMARY KEY (entry_id, nonce)
    ) WITHOUT ROWID;
    CREATE INDEX request_nonces_ts ON request_nonces (ts);
    """,
    # 7: markers (issue 12): a retraction or a superseding alert that names an alert this
    # node does not hold is kept per (alert, origin), so that one origin's claim never
    # acts for another's alert; earlier, such claims sat in the alerts table as
    # tombstones of whatever origin named the id first (created = 0), and retractions
    # were keyed by the alert alone. Covering indexes count what the quotas need.
    """
    CREATE TABLE markers (
        alert_id BLOB NOT NULL,
        origin BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('retracted', 'superseded')),
        expires INTEGER NOT NULL,
        received_from BLOB,
        stored_at INTEGER NOT NULL,
        PRIMARY KEY (alert_id, origin)
    ) WITHOUT ROWID;
    CREATE INDEX markers_expires ON markers (expires);
    CREATE INDEX markers_from ON markers (received_from, state, expires);
    INSERT INTO markers (alert_id, origin, state, expires, received_from, stored_at)
        SELECT a.id, a.origin, a.state, a.expires, r.received_from, a.stored_at
        FROM alerts a LEFT JOIN retractions r ON r.alert_id = a.id
        WHERE a.created = 0 AND a.state != 'active';
    DELETE FROM alerts WHERE created = 0 AND state != 'active';
    CREATE TABLE retractions_by_origin (
        alert_id BLOB NOT NULL,
        id BLOB NOT NULL UNIQUE,
        origin BLOB NOT NULL,
        expires INTEGER NOT NULL,
        hops INTEGER NOT NULL,
        received_from BLOB,
        stored_at INTEGER NOT NULL,
        envelope_enc BLOB NOT NULL,
        PRIMARY KEY (alert_id, origin)
    ) WITHOUT ROWID;
    INSERT INTO retractions_by_origin SELECT alert_id, id, origin, expires, hops,
        received_from, stored_at, envelope_enc FROM retractions;
    DROP TABLE retractions;
    ALTER TABLE retractions_by_origin RENAME TO retractions;
    CREATE INDEX retractions_expires ON retractions (expires);
    DROP INDEX alerts_origin;
    CREATE INDEX alerts_origin ON alerts (origin, state, expires);
    CREATE INDEX alerts_delivered ON alerts (received_from, state, expires);
    """,
    # 8: notifications (issue 15, point 1). Channels: the admin's apprise URLs,
    # sealed; subscriptions: a member's channel, with her address and choices sealed
    # together; the outbox: messages waiting (or retrying), each payload sealed. Only
    # what scheduling needs is clear: a channel's name and kind, a row's due time and
    # attempts, and which subscription a row is for (removing it removes them).
    """
    CREATE TABLE channels (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        url_enc BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
        channel TEXT NOT NULL REFERENCES channels (name) ON DELETE CASCADE,
        prefs_enc BLOB NOT NULL
    );
    CREATE INDEX subscriptions_member ON subscriptions (member_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL REFERENCES channels (name) ON DELETE CASCADE,
        subscription INTEGER REFERENCES subscriptions (id) ON DELETE CASCADE,
        digest INTEGER NOT NULL DEFAULT 0,
        due INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        payload_enc BLOB NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (due);
    CREATE INDEX outbox_subscription ON outbox (subscription);
    CREATE UNIQUE INDEX outbox_digest ON outbox (subscription) WHERE digest = 1;
    """,
    # 9: members vouching (issue 13 item 13). An invite a member made is flagged
    # ``vouched`` and has no creator column; a member's monthly allowance is keyed by a
    # keyed tag of (member, month) and holds only a number; the admin's counts are per
    # month. Nothing links a member to an invite or to the person who used it.
    """
    ALTER TABLE invites ADD COLUMN vouched INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE vouch_allowance (
        tag BLOB PRIMARY KEY,
        month TEXT NOT NULL,
        used INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE vouch_totals (
        month TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        joined INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 10: partner platforms (issue 15 point 3) and the SMS check (point 2). A
    # partner's token is kept only as a keyed tag; its name, webhook and reports are
    # sealed; referral codes are tags; a member's phone number for the SMS check is
    # sealed and found by a keyed tag of its E.164 form, never in clear.
    """
    CREATE TABLE partners (
        id INTEGER PRIMARY KEY,
        name_tag BLOB NOT NULL UNIQUE,
        name_enc BLOB NOT NULL,
        token_tag BLOB NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        created INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0,
        joined INTEGER NOT NULL DEFAULT 0,
        webhook_enc BLOB
    );
    CREATE TABLE partner_reports (
        id INTEGER PRIMARY KEY,
        ref TEXT NOT NULL UNIQUE,
        partner_id INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
        created INTEGER NOT NULL,
        body_enc BLOB NOT NULL
    );
    CREATE INDEX partner_reports_created ON partner_reports (created);
    CREATE TABLE referral_codes (
        code_tag BLOB PRIMARY KEY,
        partner_id INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE membership_requests (
        id INTEGER PRIMARY KEY,
        partner_id INTEGER REFERENCES partners (id) ON DELETE SET NULL,
        created INTEGER NOT NULL,
        body_enc BLOB NOT NULL
    );
    CREATE TABLE sms_numbers (
        phone_tag BLOB PRIMARY KEY,
        member_id INTEGER NOT NULL UNIQUE REFERENCES members (id) ON DELETE CASCADE,
        phone_enc BLOB NOT NULL,
        lang TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE sms_gateways (
        kind TEXT PRIMARY KEY,
        secret_enc BLOB NOT NULL,
        channel TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    """,
    # 11: the partner webhook queue (recommendations posted with retries).
    """
    CREATE TABLE partner_webhooks (
        id INTEGER PRIMARY KEY,
        partner_id INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
        due INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        body_enc BLOB NOT NULL
    );
    CREATE INDEX partner_webhooks_due ON partner_webhooks (due);
    """,
    # 12: issue 16. Monthly totals for funders: per calendar month, how many
    # checks, reports, sign-ups, alerts published and received, and the member count;
    # nothing finer than a month, nothing per member (node/store/totals.py). Members'
    # voice (node/store/voice.py): anonymous feedback (sealed, dated to the day, no
    # member); polls (question and options sealed), their totals per option, and a
    # keyed tag per (poll, voter) that stops a second vote, deleted when the poll closes.
    """
    CREATE TABLE monthly_counts (
        month TEXT NOT NULL,
        counter TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (month, counter)
    ) WITHOUT ROWID;
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        day INTEGER NOT NULL,
        body_enc BLOB NOT NULL
    );
    CREATE INDEX feedback_day ON feedback (day);
    CREATE TABLE polls (
        id INTEGER PRIMARY KEY,
        created INTEGER NOT NULL,
        open INTEGER NOT NULL,
        body_enc BLOB NOT NULL
    );
    CREATE TABLE poll_counts (
        poll_id INTEGER NOT NULL,
        option INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (poll_id, option)
    ) WITHOUT ROWID;
    CREATE TABLE poll_voters (
        poll_id INTEGER NOT NULL,
        tag BLOB NOT NULL,
        PRIMARY KEY (poll_id, tag)
    ) WITHOUT ROWID;
    """,
    # 13: keyed facet tags (one per category an alert names, one for its danger
    # level) and a newest-first index, so that a page of alerts under any filter is
    # read from an index and only the alerts it shows are opened (issue 17, item 5);
    # filled for the active alerts already stored.
    fill_facets,
    # 14: log.relisted, 1 when an alert's log entry was moved to a new position
    # because a peer offered it by a shorter path (node/store/hops.py) after the
    # notifier had already routed it, so members are not told of it twice.
    """
    ALTER TABLE log ADD COLUMN relisted INTEGER NOT NULL DEFAULT 0;
    """,
    # 15: the alerts no longer active (retracted, superseded), by expiry: a partial
    # index, written only when an alert leaves the active state, so the count of
    # active alerts (status) is the count by expiry less these, both from indexes.
    # Counted row by row it took 9 s at a million alerts.
    """
    CREATE INDEX alerts_inactive ON alerts (expires) WHERE state <> 'active';
    """,
    # 16: a facet of its own for every area warning, so that a node with warnings
    # off finds those it holds from an index. Each retention pass looked at every
    # alert in "other" instead: about 5 s at a million alerts, holding writes.
    tag_warnings,
    # 17: the alerts table keyed by rowid, its id a unique index. Without a rowid,
    # each alert's row (its sealed body, about 700 bytes) went into the table at the
    # place of its random id: storing a batch rewrote a page of the table for nearly
    # every alert, and the COMMIT and its checkpoint wrote them all out again. Rows
    # now go at the table's end; only the id's index entry (about 40 bytes) goes at
    # a random place. Copied in one transaction; the old table's pages are zeroed
    # (secure_delete) and kept for new rows. The two newest-first indexes a page of
    # alerts is read by name the id after the time, as the table's key did for them
    # before: a page is ordered by (created, id), and one hour holds many alerts.
    """
    CREATE TABLE alerts_by_rowid (
        id BLOB PRIMARY KEY,
        origin BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('active', 'retracted', 'superseded')),
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        hops INTEGER NOT NULL,
        max_hops INTEGER NOT NULL,
        tlp TEXT NOT NULL,
        received_from BLOB,
        region_tag BLOB,
        stored_at INTEGER NOT NULL,
        body_enc BLOB
    );
    INSERT INTO alerts_by_rowid (id, origin, state, created, expires, hops, max_hops,
        tlp, received_from, region_tag, stored_at, body_enc)
        SELECT id, origin, state, created, expires, hops, max_hops, tlp, received_from,
        region_tag, stored_at, body_enc FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_by_rowid RENAME TO alerts;
    CREATE INDEX alerts_expires ON alerts (expires);
    CREATE INDEX alerts_origin ON alerts (origin, state, expires);
    CREATE INDEX alerts_region ON alerts (region_tag, created, id);
    CREATE INDEX alerts_delivered ON alerts (received_from, state, expires);
    CREATE INDEX alerts_inactive ON alerts (expires) WHERE state <> 'active';
    CREATE INDEX alerts_created ON alerts (created, id);
    """,
    # 18: an alert's facet rows go by their own key, not by an index on alert_id.
    # That index, and the foreign key it served, cost every stored alert three writes
    # at random places (a quarter of a catch-up's database work, docs/benchmarks.md)
    # and were used only when an alert left. Facet tags are few (a category, a danger
    # level, the warning facet): ``facet_tags`` lists every one ever written (a
    # trigger adds each new one as it is written), and when an alert is deleted or
    # stops being active a trigger deletes its facets by (tag, created, id) for each
    # listed tag, whatever the path. A later migration that rebuilds ``alerts`` or
    # ``alert_facets`` must create their triggers again.
    """
    CREATE TABLE IF NOT EXISTS facet_tags (tag BLOB PRIMARY KEY) WITHOUT ROWID;
    INSERT OR IGNORE INTO facet_tags SELECT DISTINCT tag FROM alert_facets;
    CREATE TABLE alert_facets_by_tag (
        tag BLOB NOT NULL,
        created INTEGER NOT NULL,
        alert_id BLOB NOT NULL,
        PRIMARY KEY (tag, created, alert_id)
    ) WITHOUT ROWID;
    INSERT INTO alert_facets_by_tag SELECT tag, created, alert_id FROM alert_facets
        WHERE alert_id IN (SELECT id FROM alerts WHERE state = 'active');
    DROP TABLE alert_facets;
    ALTER TABLE alert_facets_by_tag RENAME TO alert_facets;
    CREATE TRIGGER IF NOT EXISTS facet_tags_listed AFTER INSERT ON alert_facets BEGIN
        INSERT OR IGNORE INTO facet_tags (tag) VALUES (NEW.tag);
    END;
    CREATE TRIGGER IF NOT EXISTS alert_facets_deleted AFTER DELETE ON alerts BEGIN
        DELETE FROM alert_facets WHERE tag IN (SELECT tag FROM facet_tags)
            AND created = OLD.created AND alert_id = OLD.id;
    END;
    CREATE TRIGGER IF NOT EXISTS alert_facets_inactive AFTER UPDATE OF state ON alerts
        WHEN NEW.state <> 'active' BEGIN
        DELETE FROM alert_facets WHERE tag IN (SELECT tag FROM facet_tags)
            AND created = OLD.created AND alert_id = OLD.id;
    END;
    """,
)
