-- The PostgreSQL store, schema version 2, applied on top of version 1 in the same transaction
-- that records the new version. Profiled in BENCHMARKS.md (part g), it changes how the steps
-- do their work, not what they answer:
--
-- - The shared send caps (address, number block, voice, country, overall) read a counter of
--   the log's rows (`send_count`) instead of counting the rows by index scans, which cost
--   O(cap) index entries per cap and send. The caps stay exact sliding windows: the rows that
--   left the window are deleted before the counter is read, and every statement that inserts
--   or deletes a row of a counted log moves its counter in the same transaction. A phone's own
--   log is not counted (it holds at most its cap, a few rows, and the cooldown reads it
--   anyway).
-- - reserve_send checks the phone (lock, cooldown, per-phone cap) under the phone's lock
--   alone, and takes the shared caps' lock only for the shared caps: that lock serialises
--   every send, so what it covers bounds the sends per second.
-- - The hot steps read and write a phone's record as plain values, with a plain UPDATE where
--   the record is known to exist, where version 1 passed whole records through a chain of
--   helpers (each call an expression to evaluate) and upserted every time.
-- - tf_revoke commits with the server's own synchronous_commit even when the store's session
--   turned it off for the counting steps (see `Durability` in postgres.rs).
--
-- Every function keeps its name, arguments and results, so that an instance still running the
-- code of version 1 keeps working (it calls the functions of version 2) while a rolling
-- upgrade replaces it.

-- Version 1's helpers of the phone record, replaced by tf_phone_at and tf_put_phone.
DROP FUNCTION tf_touch_phone(bigint, bigint);
DROP FUNCTION tf_save_phone(phones, bigint);
DROP FUNCTION tf_load_phone(bigint, bigint);
DROP FUNCTION tf_settle(phones, bigint);

CREATE TABLE send_count (
    log text PRIMARY KEY,
    n integer NOT NULL
);
INSERT INTO send_count
SELECT log, count(*) FROM send_log WHERE log NOT LIKE 'p:%' GROUP BY log;

-- The advisory lock key of `k` (see tf_take); SQL, so that calls are inlined.
CREATE FUNCTION tf_key(k text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT hashtextextended(current_schema() || ':' || k, 0)
$$;

-- A phone's record at `now`, settled (what aged out is gone) and written back if settling
-- changed it, as every in-memory step does. `here` is false when there is no live record.
CREATE FUNCTION tf_phone_at(p bigint, now bigint,
    OUT here boolean, OUT pid bigint, OUT pexp bigint, OUT tkt text, OUT att integer,
    OUT attu bigint, OUT lu bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    changed boolean := false;
    keep bigint;
BEGIN
    SELECT f.pid, f.pexp, f.tkt, f.att, f.attu, f.locked_until
    INTO pid, pexp, tkt, att, attu, lu
    FROM phones f WHERE f.phone = p AND f.keep_until > now;
    here := FOUND;
    IF NOT here THEN
        pexp := 0; att := 0; attu := 0; lu := 0;
        RETURN;
    END IF;
    IF pid IS NOT NULL AND pexp <= now THEN
        pid := NULL; tkt := NULL; pexp := 0; changed := true;
    END IF;
    IF lu <> 0 AND lu <= now THEN
        lu := 0; att := 0; changed := true;
    END IF;
    IF att <> 0 AND attu <= now THEN
        att := 0; changed := true;
    END IF;
    IF changed THEN
        keep := lu;
        IF pid IS NOT NULL THEN keep := greatest(keep, pexp); END IF;
        IF att <> 0 THEN keep := greatest(keep, attu); END IF;
        IF keep > now THEN
            UPDATE phones f SET pid = tf_phone_at.pid, pexp = tf_phone_at.pexp,
                tkt = tf_phone_at.tkt, att = tf_phone_at.att, locked_until = tf_phone_at.lu,
                keep_until = keep
            WHERE f.phone = p;
        ELSE
            DELETE FROM phones f WHERE f.phone = p;
        END IF;
    END IF;
END
$$;

-- Writes a phone's record settled at `now` (as tf_save_phone), kept until its last deadline,
-- or deletes it when nothing in it is live.
CREATE FUNCTION tf_put_phone(p bigint, now bigint, r_pid bigint, r_pexp bigint, r_tkt text,
    r_att integer, r_attu bigint, r_lu bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    keep bigint;
BEGIN
    IF r_pid IS NOT NULL AND r_pexp <= now THEN
        r_pid := NULL; r_tkt := NULL; r_pexp := 0;
    END IF;
    IF r_lu <> 0 AND r_lu <= now THEN
        r_lu := 0; r_att := 0;
    END IF;
    IF r_att <> 0 AND r_attu <= now THEN
        r_att := 0;
    END IF;
    keep := r_lu;
    IF r_pid IS NOT NULL THEN keep := greatest(keep, r_pexp); END IF;
    IF r_att <> 0 THEN keep := greatest(keep, r_attu); END IF;
    IF keep > now THEN
        INSERT INTO phones VALUES (p, r_pid, r_pexp, r_tkt, r_att, r_attu, r_lu, keep)
        ON CONFLICT (phone) DO UPDATE SET
            pid = excluded.pid, pexp = excluded.pexp, tkt = excluded.tkt, att = excluded.att,
            attu = excluded.attu, locked_until = excluded.locked_until,
            keep_until = excluded.keep_until;
    ELSE
        DELETE FROM phones WHERE phone = p;
    END IF;
END
$$;

-- The sends of each counted log of `ks` within `win` of `now` (by position), after deleting
-- the rows that left the window. A statement per log, each a lookup by key: statements over
-- all the logs at once measured slower (planned anew on every call).
CREATE FUNCTION tf_logs_live(ks text[], win bigint, now bigint) RETURNS bigint[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    live bigint[] := '{}';
    k text;
    gone integer;
    n_live bigint;
BEGIN
    FOREACH k IN ARRAY ks LOOP
        DELETE FROM send_log WHERE log = k AND at <= now - win;
        GET DIAGNOSTICS gone = ROW_COUNT;
        IF gone > 0 THEN
            UPDATE send_count c SET n = c.n - gone WHERE c.log = k RETURNING c.n INTO n_live;
        ELSE
            SELECT c.n INTO n_live FROM send_count c WHERE c.log = k;
        END IF;
        live := live || coalesce(n_live, 0);
    END LOOP;
    RETURN live;
END
$$;

-- Records send `m` in every log of `ks`, log `ks[j]` for the window `ws[j]`; the counted
-- logs' counters move with it.
CREATE FUNCTION tf_log_sends(ks text[], ws bigint[], m bigint, now bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    fresh boolean;
BEGIN
    FOR j IN 1 .. coalesce(array_length(ks, 1), 0) LOOP
        INSERT INTO send_log VALUES (ks[j], m, now, now + ws[j])
        ON CONFLICT (log, member) DO UPDATE
            SET at = excluded.at, keep_until = excluded.keep_until
        RETURNING xmax = 0 INTO fresh;
        IF fresh AND ks[j] NOT LIKE 'p:%' THEN
            UPDATE send_count c SET n = c.n + 1 WHERE c.log = ks[j];
            IF NOT FOUND THEN
                INSERT INTO send_count VALUES (ks[j], 1)
                ON CONFLICT (log) DO UPDATE SET n = send_count.n + 1;
            END IF;
        END IF;
    END LOOP;
END
$$;

-- Records send `m` in log `k` (tf_log_sends for one log; record_verified uses it).
CREATE OR REPLACE FUNCTION tf_log_send(k text, m bigint, win bigint, now bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM tf_log_sends(ARRAY[k], ARRAY[win], m, now);
END
$$;

CREATE OR REPLACE FUNCTION tf_reserve_send(
    caller bigint, p bigint, m bigint, cooldown bigint, per_phone integer, win bigint,
    ip text, per_ip integer, range_log text, per_range integer, voice_cap integer,
    voice boolean, global_cap integer, country text, conv_min integer, conv_permille integer,
    cwin bigint, OUT limit_code integer, OUT wait bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
    ph record;
    t bigint;
    plog text := 'p:' || p;
    ilog text := 'ip:' || ip;
    slog text := 'c:' || country || ':s';
    vlog text := 'c:' || country || ':v';
    ks text[];
    ws bigint[];
    live bigint[];
    conv bigint[];
    i integer := 1;
BEGIN
    limit_code := 0;
    wait := 0;
    PERFORM pg_advisory_xact_lock(tf_key(plog));
    now := tf_clock_ms(caller);
    ph := tf_phone_at(p, now);
    IF ph.lu > now THEN
        limit_code := 1; wait := ph.lu - now; RETURN;
    END IF;
    -- The phone's log is not counted: it holds at most its cap, read by its index.
    DELETE FROM send_log WHERE log = plog AND at <= now - win;
    SELECT max(at) INTO t FROM send_log WHERE log = plog;
    IF t IS NOT NULL AND t + cooldown > now THEN
        limit_code := 2; wait := t + cooldown - now; RETURN;
    END IF;
    wait := tf_window_wait(plog, per_phone, win, now);
    IF wait > 0 THEN limit_code := 3; RETURN; END IF;

    -- The shared caps, under one lock for all of them (every send checks and records the
    -- overall cap: one lock per cap would leave no more parallelism), taken only now to keep
    -- the sends' one serial section short. The phone's checks above still hold: only time
    -- lifts them, and no other step can change the phone while this one holds its lock.
    PERFORM pg_advisory_xact_lock(tf_key('caps'));
    now := greatest(now, tf_clock_ms(caller));
    -- In the order of the checks: address, range, voice, overall.
    ks := ARRAY[range_log];
    IF ip IS NOT NULL THEN ks := ilog || ks; END IF;
    IF voice THEN ks := ks || 'voice'::text; END IF;
    ks := ks || 'all'::text;
    live := tf_logs_live(ks, win, now);
    IF ip IS NOT NULL THEN
        IF per_ip < 1 OR live[i] >= per_ip THEN
            wait := tf_window_wait(ilog, per_ip, win, now);
            IF wait > 0 THEN limit_code := 4; RETURN; END IF;
        END IF;
        i := i + 1;
    END IF;
    IF per_range < 1 OR live[i] >= per_range THEN
        wait := tf_window_wait(range_log, per_range, win, now);
        IF wait > 0 THEN limit_code := 5; RETURN; END IF;
    END IF;
    i := i + 1;
    IF voice THEN
        IF voice_cap < 1 OR live[i] >= voice_cap THEN
            wait := tf_window_wait('voice', voice_cap, win, now);
            IF wait > 0 THEN limit_code := 6; RETURN; END IF;
        END IF;
        i := i + 1;
    END IF;
    IF conv_min > 0 THEN
        conv := tf_logs_live(ARRAY[slog, vlog], cwin, now);
        IF conv[1] >= conv_min AND conv[2] * 1000 < conv_permille::bigint * conv[1] THEN
            -- The figures change by themselves first when the oldest send leaves the window.
            SELECT min(at) INTO t FROM send_log WHERE log = slog AND at > now - cwin;
            limit_code := 7; wait := greatest(t + cwin - now, 1); RETURN;
        END IF;
    END IF;
    IF global_cap < 1 OR live[i] >= global_cap THEN
        wait := tf_window_wait('all', global_cap, win, now);
        IF wait > 0 THEN limit_code := 8; RETURN; END IF;
    END IF;

    ks := ARRAY[plog, 'all', slog, range_log];
    ws := ARRAY[win, win, cwin, win];
    IF voice THEN ks := ks || 'voice'::text; ws := ws || win; END IF;
    IF ip IS NOT NULL THEN ks := ks || ilog; ws := ws || win; END IF;
    PERFORM tf_log_sends(ks, ws, m, now);
    wait := 0;
END
$$;

-- release_send: takes this send (its unique member) back from every log it was recorded in,
-- and from the counters.
CREATE OR REPLACE FUNCTION tf_release_send(p bigint, m bigint, ip text, range_log text,
    country text)
RETURNS void
LANGUAGE sql VOLATILE AS $$
    WITH gone AS (
        DELETE FROM send_log
        WHERE member = m
          AND log IN ('p:' || p, 'all', 'voice', 'c:' || country || ':s', range_log, 'ip:' || ip)
        RETURNING log
    )
    UPDATE send_count c SET n = c.n - g.k
    FROM (SELECT log, count(*) AS k FROM gone GROUP BY log) g
    WHERE c.log = g.log
$$;

CREATE OR REPLACE FUNCTION tf_put_pending(caller bigint, p bigint, id bigint, life bigint,
    ticket text)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
    r record;
BEGIN
    PERFORM pg_advisory_xact_lock(tf_key('p:' || p));
    now := tf_clock_ms(caller);
    SELECT f.att, f.attu, f.locked_until AS lu INTO r
    FROM phones f WHERE f.phone = p AND f.keep_until > now;
    IF NOT FOUND THEN
        PERFORM tf_put_phone(p, now, id, now + life, ticket, 0, 0, 0);
    ELSE
        PERFORM tf_put_phone(p, now, id, now + life, ticket, r.att, r.attu, r.lu);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION tf_begin_attempt(
    caller bigint, p bigint, ip text, max_attempts integer, lockout bigint, memory bigint,
    budget integer, vwin bigint,
    OUT code integer, OUT wait bigint, OUT pid bigint, OUT ticket text, OUT attempt integer,
    OUT last boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
    ph record;
    n_att integer;
    n_attu bigint;
    n_lu bigint;
    keep bigint;
BEGIN
    IF ip IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(tf_key('v:' || ip));
    END IF;
    PERFORM pg_advisory_xact_lock(tf_key('p:' || p));
    now := tf_clock_ms(caller);
    IF ip IS NOT NULL THEN
        wait := tf_take_verify(ip, budget, vwin, now);
        IF wait > 0 THEN code := 3; RETURN; END IF;
    END IF;
    ph := tf_phone_at(p, now);
    IF ph.lu > now THEN
        code := 0; wait := ph.lu - now; RETURN;
    END IF;
    IF ph.pid IS NULL THEN
        code := 1; RETURN;
    END IF;
    n_att := ph.att + 1;
    n_attu := now + memory;
    n_lu := ph.lu;
    last := false;
    IF n_att >= max_attempts THEN
        n_lu := now + lockout;
        last := true;
    END IF;
    code := 2; pid := ph.pid; ticket := ph.tkt; attempt := n_att;
    -- As tf_put_phone, with the record known to exist and its code live.
    IF n_lu <> 0 AND n_lu <= now THEN
        n_lu := 0; n_att := 0;
    END IF;
    IF n_att <> 0 AND n_attu <= now THEN
        n_att := 0;
    END IF;
    keep := greatest(n_lu, ph.pexp);
    IF n_att <> 0 THEN keep := greatest(keep, n_attu); END IF;
    UPDATE phones f SET att = n_att, attu = n_attu, locked_until = n_lu, keep_until = keep
    WHERE f.phone = p;
END
$$;

CREATE OR REPLACE FUNCTION tf_finish_attempt(caller bigint, p bigint, id bigint,
    result integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
    here boolean;
    r_pid bigint; r_pexp bigint; r_tkt text; r_att integer; r_attu bigint; r_lu bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(tf_key('p:' || p));
    now := tf_clock_ms(caller);
    -- The id is checked before anything ages out: a match the provider confirmed just as the
    -- code expired still counts.
    SELECT f.pid, f.pexp, f.tkt, f.att, f.attu, f.locked_until
    INTO r_pid, r_pexp, r_tkt, r_att, r_attu, r_lu
    FROM phones f WHERE f.phone = p AND f.keep_until > now;
    here := FOUND;
    IF NOT here THEN
        -- Nothing live: nothing to consume or cancel (a stale row is left to the purge).
        RETURN result = 1;
    END IF;
    IF result = 1 THEN
        IF r_pid IS NOT NULL AND r_pid = id THEN
            -- Consumed, and the counter and lock reset: nothing of the record is left.
            DELETE FROM phones WHERE phone = p;
            RETURN false;
        END IF;
        PERFORM tf_put_phone(p, now, r_pid, r_pexp, r_tkt, r_att, r_attu, r_lu);
        RETURN true;
    END IF;
    PERFORM tf_put_phone(p, now, NULL, 0, NULL, r_att, r_attu, r_lu);
    RETURN false;
END
$$;

-- The counted logs' sends within the window: the counter less the rows that left the window
-- and are not deleted yet, read in one snapshot (no lock: a reader prunes nothing).
CREATE OR REPLACE FUNCTION tf_conversion(caller bigint, country text, cwin bigint,
    OUT sends bigint, OUT verified bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint := tf_clock_ms(caller);
    slog text := 'c:' || country || ':s';
    vlog text := 'c:' || country || ':v';
BEGIN
    SELECT coalesce((SELECT n FROM send_count WHERE log = slog), 0)
           - (SELECT count(*) FROM send_log WHERE log = slog AND at <= now - cwin),
           coalesce((SELECT n FROM send_count WHERE log = vlog), 0)
           - (SELECT count(*) FROM send_log WHERE log = vlog AND at <= now - cwin)
    INTO sends, verified;
END
$$;

CREATE OR REPLACE FUNCTION tf_revoke(caller bigint, life bigint, k text, ka text, kb bigint,
    kx bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
BEGIN
    -- A revocation is not a counter: it commits as the server is configured, whatever the
    -- store's session chose for its counting steps.
    SET LOCAL synchronous_commit TO DEFAULT;
    PERFORM tf_take('revocations');
    now := tf_clock_ms(caller);
    DELETE FROM revocations WHERE seq IN (
        SELECT seq FROM revocations WHERE keep_until <= now ORDER BY keep_until LIMIT 1000);
    IF life > 0 THEN
        INSERT INTO revocations (kind, a, b, x, keep_until) VALUES (k, ka, kb, kx, now + life);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION tf_purge(caller bigint, lim integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint := tf_clock_ms(caller);
    cnt bigint;
    total bigint := 0;
BEGIN
    DELETE FROM phones WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM phones WHERE keep_until <= now LIMIT lim));
    GET DIAGNOSTICS cnt = ROW_COUNT; total := total + cnt;
    -- The counters move with the rows (a step pruning the same rows meanwhile waits for this
    -- delete and then skips them: each row is taken off its counter once).
    WITH gone AS (
        DELETE FROM send_log WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM send_log WHERE keep_until <= now LIMIT lim))
        RETURNING log
    ), counted AS (
        UPDATE send_count c SET n = c.n - g.k
        FROM (SELECT log, count(*) AS k FROM gone GROUP BY log) g
        WHERE c.log = g.log
    )
    SELECT count(*) INTO cnt FROM gone;
    total := total + cnt;
    DELETE FROM send_count WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM send_count WHERE n = 0 LIMIT lim));
    GET DIAGNOSTICS cnt = ROW_COUNT; total := total + cnt;
    DELETE FROM verify_budget WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM verify_budget WHERE keep_until <= now LIMIT lim));
    GET DIAGNOSTICS cnt = ROW_COUNT; total := total + cnt;
    DELETE FROM revocations WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM revocations WHERE keep_until <= now LIMIT lim));
    GET DIAGNOSTICS cnt = ROW_COUNT; total := total + cnt;
    RETURN total;
END
$$;
