/*
 * pg_conns.c - what the process knows about all its PostgreSQL
 * connections: the defaults that keep a silent network from blocking a
 * run for ever, and the list of open connections that the run's guard
 * can cancel.
 *
 * Every connection made by cns_pg_connect() registers itself here with a
 * libpq event procedure; the PGEVT_CONNDESTROY event of PQfinish() takes
 * it out again, so no caller has to remember anything.  The list holds
 * its own cancel handles: a cancel request needs no access to the
 * connection, so the guard can send it from its own thread while the
 * connection's owner is blocked in it.
 */
#include "consolidate/pg.h"

#include <libpq-events.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_CONNS 64

struct conn_entry {
	PGconn *conn;     /* NULL: free slot */
	PGcancel *cancel; /* our own handle, freed by us */
	bool keep;        /* never cancelled by cns_pg_cancel_all() */
	int busy;         /* cancel requests in flight with this handle */
	bool dead;        /* the connection is gone; free when not busy */
};

/* `mu` guards conns. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct conn_entry conns[MAX_CONNS];

/* Written by cns_pg_set_timeouts() before the run starts its threads. */
static int64_t stall_ms;

static const char event_name[] = "consolidate";

static void entry_free(struct conn_entry *e)
{
	if (e->cancel)
		PQfreeCancel(e->cancel);
	memset(e, 0, sizeof(*e));
}

static struct conn_entry *entry_of(const PGconn *conn)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].conn == conn && !conns[i].dead)
			return &conns[i];
	return NULL;
}

static int on_event(PGEventId id, void *info, void *pass)
{
	struct conn_entry *e;
	PGconn *conn;

	(void)pass;
	if (id == PGEVT_CONNRESET)
		conn = ((PGEventConnReset *)info)->conn;
	else if (id == PGEVT_CONNDESTROY)
		conn = ((PGEventConnDestroy *)info)->conn;
	else
		return 1;
	pthread_mutex_lock(&mu);
	e = entry_of(conn);
	if (e && id == PGEVT_CONNRESET) {
		/* A reset connection has a new backend and cancel key. */
		PGcancel *c = PQgetCancel(conn);

		if (c && !e->busy) {
			PQfreeCancel(e->cancel);
			e->cancel = c;
		} else if (c) {
			PQfreeCancel(c);
		}
	} else if (e) {
		e->conn = NULL;
		e->dead = true;
		if (!e->busy)
			entry_free(e);
	}
	pthread_mutex_unlock(&mu);
	return 1;
}

void cns_pg_register(PGconn *conn)
{
	PGcancel *c = PQgetCancel(conn);

	if (!c)
		return;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAX_CONNS; i++) {
		if (conns[i].conn || conns[i].dead)
			continue;
		if (!PQregisterEventProc(conn, on_event, event_name, NULL))
			break;
		conns[i].conn = conn;
		conns[i].cancel = c;
		c = NULL;
		break;
	}
	pthread_mutex_unlock(&mu);
	/* With the list full the connection is only not cancellable by the
	 * guard; its owner's own timeouts still apply. */
	if (c)
		PQfreeCancel(c);
}

void cns_pg_keep(PGconn *conn)
{
	struct conn_entry *e;

	pthread_mutex_lock(&mu);
	if ((e = entry_of(conn)) != NULL)
		e->keep = true;
	pthread_mutex_unlock(&mu);
}

int cns_pg_cancel_all(void)
{
	int n = 0;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn_entry *e = &conns[i];
		char errbuf[256];

		if (!e->conn || e->keep || e->dead)
			continue;
		e->busy++;
		pthread_mutex_unlock(&mu);
		/* May block while the peer does not answer: the caller is a
		 * thread that nobody waits for. */
		if (PQcancel(e->cancel, errbuf, sizeof(errbuf)))
			n++;
		pthread_mutex_lock(&mu);
		if (--e->busy == 0 && e->dead)
			entry_free(e);
	}
	pthread_mutex_unlock(&mu);
	return n;
}

void cns_pg_set_timeouts(int64_t stall_timeout_ms)
{
	stall_ms = stall_timeout_ms;
}

int cns_pg_default_params(const char **keys, const char **vals, char *buf,
			  size_t size)
{
	int n = 0;
	int64_t user_ms = stall_ms > 0 ? stall_ms : CNS_PG_TCP_USER_TIMEOUT_MS;

	snprintf(buf, size, "%lld", (long long)user_ms);
	keys[n] = "connect_timeout";
	vals[n++] = CNS_PG_CONNECT_TIMEOUT;
	keys[n] = "keepalives";
	vals[n++] = "1";
	keys[n] = "keepalives_idle";
	vals[n++] = CNS_PG_KEEPALIVES_IDLE;
	keys[n] = "keepalives_interval";
	vals[n++] = CNS_PG_KEEPALIVES_INTERVAL;
	keys[n] = "keepalives_count";
	vals[n++] = CNS_PG_KEEPALIVES_COUNT;
	keys[n] = "tcp_user_timeout";
	vals[n++] = buf;
	return n;
}
