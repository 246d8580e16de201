-- The PostgreSQL store, schema version 1. Run once, in one transaction, inside the store's own
-- schema (search_path holds only it). Every store step is one call of one function below,
-- that is one statement: its own transaction, atomic by construction.
--
-- Time: each function's first argument `caller` is the caller's Unix milliseconds, or NULL for
-- the database server's clock (the default store option): deadlines are absolute in that
-- clock, callers pass durations. `now` is read after the step's locks are held, so the steps
-- that follow each other on one key also follow each other in time.
--
-- Concurrency: READ COMMITTED, and transaction-scoped advisory locks on the keys a step
-- touches, taken in one order everywhere (a client address's verify budget, then the phone,
-- then the shared caps, then nothing), so no two steps can wait on each other in a cycle.
-- Inside a VOLATILE function each statement reads with a fresh snapshot, and a lock is
-- released only after its holder committed: a step that got the lock sees every write of the
-- steps before it.
--
-- Expiry: every row carries `keep_until`, the instant after which no rule needs it; every rule
-- compares deadlines with `now`, so a stale row is ignored whether or not it was deleted.
-- Rows are deleted by the steps that touch them and, for the rest, by tf_purge().
--
-- u64 values (pending ids, send ids) are stored bit for bit in bigint.

CREATE TABLE phones (
    phone bigint PRIMARY KEY,
    pid bigint,
    pexp bigint NOT NULL,
    tkt text,
    att integer NOT NULL,
    attu bigint NOT NULL,
    locked_until bigint NOT NULL,
    keep_until bigint NOT NULL
);
CREATE INDEX phones_keep_until ON phones (keep_until);

-- Send logs (one per phone, client address, number block, country, voice, overall) and the
-- countries' verified logs: one row per event, `member` unique within its log.
CREATE TABLE send_log (
    log text NOT NULL,
    member bigint NOT NULL,
    at bigint NOT NULL,
    keep_until bigint NOT NULL,
    PRIMARY KEY (log, member)
);
CREATE INDEX send_log_at ON send_log (log, at);
CREATE INDEX send_log_keep_until ON send_log (keep_until);

-- Client addresses' verify budgets, counted by sub-bucket of the window.
CREATE TABLE verify_budget (
    client text NOT NULL,
    bucket bigint NOT NULL,
    n integer NOT NULL,
    keep_until bigint NOT NULL,
    PRIMARY KEY (client, bucket)
);
CREATE INDEX verify_budget_keep_until ON verify_budget (keep_until);

-- Revocations in the order they were recorded (`seq` is the readers' cursor: tf_revoke()
-- serialises writers, so ids are assigned and committed in one order and a reader that has
-- seen id n has seen every id below it).
CREATE TABLE revocations (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    a text NOT NULL,
    b bigint NOT NULL,
    x bigint NOT NULL,
    keep_until bigint NOT NULL
);
CREATE INDEX revocations_keep_until ON revocations (keep_until);

CREATE FUNCTION tf_clock_ms(caller bigint) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(caller, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
$$;

-- Serialises the steps on one key until the end of the calling transaction. The schema is
-- part of the key, so stores in other schemas of the database never wait on each other.
CREATE FUNCTION tf_take(k text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || k, 0));
END
$$;

-- A record past its keep_until (its last deadline) is gone, deleted or not: nothing in it
-- applies, not even to finish_attempt's id check.
CREATE FUNCTION tf_load_phone(p bigint, now bigint) RETURNS phones
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r phones;
BEGIN
    SELECT * INTO r FROM phones WHERE phone = p AND keep_until > now;
    IF NOT FOUND THEN
        r := ROW(p, NULL, 0, NULL, 0, 0, 0, 0)::phones;
    END IF;
    RETURN r;
END
$$;

-- Drops what has aged out at `now`, as the in-memory store does.
CREATE FUNCTION tf_settle(r phones, now bigint) RETURNS phones
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF r.pid IS NOT NULL AND r.pexp <= now THEN
        r.pid := NULL; r.tkt := NULL; r.pexp := 0;
    END IF;
    IF r.locked_until <> 0 AND r.locked_until <= now THEN
        -- A lock that ran out gives a fresh budget.
        r.locked_until := 0; r.att := 0;
    END IF;
    IF r.att <> 0 AND r.attu <= now THEN
        r.att := 0;
    END IF;
    RETURN r;
END
$$;

-- Writes the settled record back, kept until its last deadline, or deletes it.
CREATE FUNCTION tf_save_phone(r phones, now bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    last bigint;
BEGIN
    r := tf_settle(r, now);
    last := r.locked_until;
    IF r.pid IS NOT NULL THEN last := greatest(last, r.pexp); END IF;
    IF r.att <> 0 THEN last := greatest(last, r.attu); END IF;
    IF last > now THEN
        INSERT INTO phones
        VALUES (r.phone, r.pid, r.pexp, r.tkt, r.att, r.attu, r.locked_until, last)
        ON CONFLICT (phone) DO UPDATE SET
            pid = excluded.pid, pexp = excluded.pexp, tkt = excluded.tkt, att = excluded.att,
            attu = excluded.attu, locked_until = excluded.locked_until,
            keep_until = excluded.keep_until;
    ELSE
        DELETE FROM phones WHERE phone = r.phone;
    END IF;
END
$$;

-- Loads the record settled at `now`, and writes the settled record back if settling changed
-- it, so that a later step sees what aged out as gone (as every in-memory step does).
CREATE FUNCTION tf_touch_phone(p bigint, now bigint) RETURNS phones
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    loaded phones := tf_load_phone(p, now);
    r phones := tf_settle(loaded, now);
BEGIN
    IF r IS DISTINCT FROM loaded THEN
        PERFORM tf_save_phone(r, now);
    END IF;
    RETURN r;
END
$$;

-- Milliseconds until a sliding-window cap admits one more (0: it admits one now), as
-- window_wait in store/mod.rs: the cap-th newest live send is the one that must age out.
CREATE FUNCTION tf_window_wait(k text, cap integer, win bigint, now bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    gate bigint;
BEGIN
    IF cap < 1 THEN
        RETURN greatest(win, 1);
    END IF;
    SELECT at INTO gate FROM send_log
    WHERE log = k AND at > now - win
    ORDER BY at DESC OFFSET cap - 1 LIMIT 1;
    IF gate IS NULL THEN
        RETURN 0;
    END IF;
    RETURN greatest(gate + win - now, 1);
END
$$;

CREATE FUNCTION tf_log_send(k text, m bigint, win bigint, now bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO send_log VALUES (k, m, now, now + win)
    ON CONFLICT (log, member) DO UPDATE SET at = excluded.at, keep_until = excluded.keep_until;
    DELETE FROM send_log WHERE log = k AND at <= now - win;
END
$$;

-- A client address's verify budget: counts this verify and returns 0, or returns the
-- milliseconds until the fewest oldest buckets that must leave have left (store/mod.rs,
-- Buckets).
CREATE FUNCTION tf_take_verify(c text, budget integer, win bigint, now bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    width bigint := greatest((win + 59) / 60, 1);
    cur bigint := now / width;
    total bigint;
    excess bigint;
    dropped bigint := 0;
    e record;
BEGIN
    DELETE FROM verify_budget WHERE client = c AND bucket + 60 <= cur;
    SELECT coalesce(sum(n), 0) INTO total FROM verify_budget WHERE client = c;
    IF total >= budget THEN
        excess := total + 1 - budget;
        FOR e IN SELECT bucket, n FROM verify_budget WHERE client = c ORDER BY bucket LOOP
            dropped := dropped + e.n;
            IF dropped >= excess THEN
                RETURN greatest((e.bucket + 60) * width - now, 1);
            END IF;
        END LOOP;
        RETURN greatest(win, 1);
    END IF;
    INSERT INTO verify_budget VALUES (c, cur, 1, (cur + 60) * width)
    ON CONFLICT (client, bucket) DO UPDATE SET n = verify_budget.n + 1;
    RETURN 0;
END
$$;

-- reserve_send: the lock, the cooldown, the per-phone, per-address, per-range, voice, country
-- conversion and overall caps, checked in that order and, if all pass, recorded against
-- every one of them. limit_code: 0 granted, else 1 locked … 8 global (the contract's order).
CREATE FUNCTION tf_reserve_send(
    caller bigint, p bigint, m bigint, cooldown bigint, per_phone integer, win bigint,
    ip text, per_ip integer, range_log text, per_range integer, voice_cap integer,
    voice boolean, global_cap integer, country text, conv_min integer, conv_permille integer,
    cwin bigint, OUT limit_code integer, OUT wait bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
    r phones;
    t bigint;
    plog text := 'p:' || p;
    ilog text := 'ip:' || ip;
    slog text := 'c:' || country || ':s';
    vlog text := 'c:' || country || ':v';
    sends bigint;
    verified bigint;
BEGIN
    limit_code := 0;
    wait := 0;
    PERFORM tf_take(plog);
    -- Every send checks and records the overall cap: one lock for all the shared caps costs
    -- no parallelism that the overall cap's own lock would leave.
    PERFORM tf_take('caps');
    now := tf_clock_ms(caller);
    r := tf_touch_phone(p, now);
    IF r.locked_until > now THEN
        limit_code := 1; wait := r.locked_until - now; RETURN;
    END IF;
    SELECT max(at) INTO t FROM send_log WHERE log = plog;
    IF t IS NOT NULL AND t > now - win AND t + cooldown > now THEN
        limit_code := 2; wait := t + cooldown - now; RETURN;
    END IF;
    wait := tf_window_wait(plog, per_phone, win, now);
    IF wait > 0 THEN limit_code := 3; RETURN; END IF;
    IF ip IS NOT NULL THEN
        wait := tf_window_wait(ilog, per_ip, win, now);
        IF wait > 0 THEN limit_code := 4; RETURN; END IF;
    END IF;
    wait := tf_window_wait(range_log, per_range, win, now);
    IF wait > 0 THEN limit_code := 5; RETURN; END IF;
    IF voice THEN
        wait := tf_window_wait('voice', voice_cap, win, now);
        IF wait > 0 THEN limit_code := 6; RETURN; END IF;
    END IF;
    SELECT count(*) INTO sends FROM send_log WHERE log = slog AND at > now - cwin;
    SELECT count(*) INTO verified FROM send_log WHERE log = vlog AND at > now - cwin;
    IF conv_min > 0 AND sends >= conv_min AND verified * 1000 < conv_permille::bigint * sends THEN
        -- The figures change by themselves first when the oldest send leaves the window.
        SELECT min(at) INTO t FROM send_log WHERE log = slog AND at > now - cwin;
        limit_code := 7; wait := greatest(t + cwin - now, 1); RETURN;
    END IF;
    wait := tf_window_wait('all', global_cap, win, now);
    IF wait > 0 THEN limit_code := 8; RETURN; END IF;

    PERFORM tf_log_send(plog, m, win, now);
    PERFORM tf_log_send('all', m, win, now);
    IF voice THEN PERFORM tf_log_send('voice', m, win, now); END IF;
    PERFORM tf_log_send(slog, m, cwin, now);
    PERFORM tf_log_send(range_log, m, win, now);
    IF ip IS NOT NULL THEN PERFORM tf_log_send(ilog, m, win, now); END IF;
    wait := 0;
END
$$;

-- release_send: takes this send (its unique member) back from every log it was recorded in.
CREATE FUNCTION tf_release_send(p bigint, m bigint, ip text, range_log text, country text)
RETURNS void
LANGUAGE sql VOLATILE AS $$
    DELETE FROM send_log
    WHERE member = m
      AND log IN ('p:' || p, 'all', 'voice', 'c:' || country || ':s', range_log, 'ip:' || ip)
$$;

-- put_pending: the phone's live code, replacing any earlier one; counters untouched.
CREATE FUNCTION tf_put_pending(caller bigint, p bigint, id bigint, life bigint, ticket text)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
    r phones;
BEGIN
    PERFORM tf_take('p:' || p);
    now := tf_clock_ms(caller);
    r := tf_load_phone(p, now);
    r.pid := id;
    r.pexp := now + life;
    r.tkt := ticket;
    PERFORM tf_save_phone(r, now);
END
$$;

-- begin_attempt: the address's verify budget first (spent: code 3, nothing else is read);
-- then locked (code 0), no live code (1), or the attempt counted before the comparison and
-- the ticket handed out (2; `last`: this attempt spent the budget and set the lock).
CREATE FUNCTION tf_begin_attempt(
    caller bigint, p bigint, ip text, max_attempts integer, lockout bigint, memory bigint,
    budget integer, vwin bigint,
    OUT code integer, OUT wait bigint, OUT pid bigint, OUT ticket text, OUT attempt integer,
    OUT last boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
    r phones;
BEGIN
    IF ip IS NOT NULL THEN
        PERFORM tf_take('v:' || ip);
    END IF;
    PERFORM tf_take('p:' || p);
    now := tf_clock_ms(caller);
    IF ip IS NOT NULL THEN
        wait := tf_take_verify(ip, budget, vwin, now);
        IF wait > 0 THEN code := 3; RETURN; END IF;
    END IF;
    r := tf_touch_phone(p, now);
    IF r.locked_until > now THEN
        code := 0; wait := r.locked_until - now; RETURN;
    END IF;
    IF r.pid IS NULL THEN
        code := 1; RETURN;
    END IF;
    r.att := r.att + 1;
    r.attu := now + memory;
    last := false;
    IF r.att >= max_attempts THEN
        r.locked_until := now + lockout;
        last := true;
    END IF;
    code := 2; pid := r.pid; ticket := r.tkt; attempt := r.att;
    PERFORM tf_save_phone(r, now);
END
$$;

-- finish_attempt: result 1 matched (consume the code if it is still `id`; gone otherwise),
-- 2 last mismatch (the lock cancels whatever code is pending). The id is checked before
-- anything ages out: a match the provider confirmed just as the code expired still counts.
CREATE FUNCTION tf_finish_attempt(caller bigint, p bigint, id bigint, result integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
    r phones;
    gone boolean := false;
BEGIN
    PERFORM tf_take('p:' || p);
    now := tf_clock_ms(caller);
    r := tf_load_phone(p, now);
    IF result = 1 THEN
        IF r.pid IS NOT NULL AND r.pid = id THEN
            r.pid := NULL; r.tkt := NULL; r.pexp := 0; r.att := 0; r.locked_until := 0;
        ELSE
            gone := true;
        END IF;
    ELSE
        r.pid := NULL; r.tkt := NULL; r.pexp := 0;
    END IF;
    PERFORM tf_save_phone(r, now);
    RETURN gone;
END
$$;

-- record_verified: one successful verification in the country's verified log (an insert of
-- a unique member: no lock needed).
CREATE FUNCTION tf_record_verified(caller bigint, country text, m bigint, cwin bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM tf_log_send('c:' || country || ':v', m, cwin, tf_clock_ms(caller));
END
$$;

CREATE FUNCTION tf_conversion(caller bigint, country text, cwin bigint,
    OUT sends bigint, OUT verified bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint := tf_clock_ms(caller);
BEGIN
    SELECT count(*) INTO sends FROM send_log
    WHERE log = 'c:' || country || ':s' AND at > now - cwin;
    SELECT count(*) INTO verified FROM send_log
    WHERE log = 'c:' || country || ':v' AND at > now - cwin;
END
$$;

-- revoke: records a revocation (unless already expired) after forgetting up to 1000 expired
-- ones. Writers are serialised (see the table).
CREATE FUNCTION tf_revoke(caller bigint, life bigint, k text, ka text, kb bigint, kx bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint;
BEGIN
    PERFORM tf_take('revocations');
    now := tf_clock_ms(caller);
    DELETE FROM revocations WHERE seq IN (
        SELECT seq FROM revocations WHERE keep_until <= now ORDER BY keep_until LIMIT 1000);
    IF life > 0 THEN
        INSERT INTO revocations (kind, a, b, x, keep_until) VALUES (k, ka, kb, kx, now + life);
    END IF;
END
$$;

-- revocations: up to `lim` entries after the cursor, each with whether it is still live.
CREATE FUNCTION tf_read_revocations(caller bigint, after bigint, lim integer)
RETURNS TABLE (seq bigint, kind text, a text, b bigint, x bigint, live boolean)
LANGUAGE sql VOLATILE AS $$
    SELECT r.seq, r.kind, r.a, r.b, r.x, r.keep_until > tf_clock_ms(caller)
    FROM revocations r
    WHERE r.seq > after
    ORDER BY r.seq
    LIMIT lim
$$;

-- purge: deletes up to `lim` rows per table that no rule needs any more.
CREATE FUNCTION tf_purge(caller bigint, lim integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now bigint := tf_clock_ms(caller);
    n bigint;
    total bigint := 0;
BEGIN
    DELETE FROM phones WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM phones WHERE keep_until <= now LIMIT lim));
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM send_log WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM send_log WHERE keep_until <= now LIMIT lim));
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM verify_budget WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM verify_budget WHERE keep_until <= now LIMIT lim));
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    DELETE FROM revocations WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM revocations WHERE keep_until <= now LIMIT lim));
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    RETURN total;
END
$$;
