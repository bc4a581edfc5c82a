"""The wallet's API: one default user's balance in Postgres, read and changed over HTTP.

POST /buy adds 1, POST /sell takes 1 off (409 at 0), GET /balance reads it; each answers JSON with the balance and
`served_by`, the name of the container that answered, so that replicas behind the proxy can be told apart.
"""

import os
import socket
from contextlib import contextmanager

import dns.resolver
import dns.reversename
import psycopg2
from flask import Flask, jsonify

USER = "default"
DATABASE = dict(host=os.environ.get("DB_HOST", "postgres"), port=int(os.environ.get("DB_PORT", "5432")),
                user=os.environ.get("DB_USER", "crypto"), password=os.environ.get("DB_PASSWORD", ""),
                dbname=os.environ.get("DB_NAME", "crypto"), connect_timeout=5)

app = Flask(__name__)


@contextmanager
def transaction():
    """A cursor in one transaction on a new connection: committed when the block ends, and the connection closed."""
    db = psycopg2.connect(**DATABASE)
    try:
        with db, db.cursor() as cursor:
            yield cursor
    finally:
        db.close()


def create_tables():
    """The table and the default user's row, made once at start if missing. The lock makes replicas starting
    together take turns, since two CREATE TABLE IF NOT EXISTS at once can still collide."""
    with transaction() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(8)")
        cursor.execute("CREATE TABLE IF NOT EXISTS wallets (name text PRIMARY KEY, balance integer NOT NULL)")
        cursor.execute("INSERT INTO wallets VALUES (%s, 0) ON CONFLICT (name) DO NOTHING", (USER,))


def container_name():
    """This container's name, as Compose gave it (microservices-api-2): Docker's DNS answers the reverse lookup of
    its own address with NAME.NETWORK. /etc/hosts would answer with the hostname, so DNS is asked directly.
    Elsewhere, the hostname."""
    hostname = socket.gethostname()
    try:
        address = socket.gethostbyname(hostname)
        answer = dns.resolver.resolve(dns.reversename.from_address(address), "PTR", lifetime=2)
        return str(answer[0]).split(".")[0]
    except Exception:  # no DNS that knows it (not on a Compose network): the hostname it has
        return hostname


SERVED_BY = container_name()
create_tables()


def answer(balance, status=200, **extra):
    return jsonify(balance=balance, served_by=SERVED_BY, **extra), status


@app.get("/balance")
def balance():
    with transaction() as cursor:
        cursor.execute("SELECT balance FROM wallets WHERE name = %s", (USER,))
        return answer(cursor.fetchone()[0])


@app.post("/buy")
def buy():
    with transaction() as cursor:
        cursor.execute("UPDATE wallets SET balance = balance + 1 WHERE name = %s RETURNING balance", (USER,))
        return answer(cursor.fetchone()[0])


@app.post("/sell")
def sell():
    with transaction() as cursor:
        cursor.execute("UPDATE wallets SET balance = balance - 1 WHERE name = %s AND balance > 0 RETURNING balance",
                       (USER,))
        row = cursor.fetchone()
        if row is None:
            return answer(0, 409, error="nothing to sell")
        return answer(row[0])


@app.errorhandler(psycopg2.OperationalError)
def database_away(error):
    """Postgres does not answer (stopped, or restarting): say so, and try again later."""
    return jsonify(error=f"the database does not answer: {str(error).strip()[:200]}", served_by=SERVED_BY), 503
