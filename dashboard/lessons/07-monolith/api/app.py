"""The wallet's API: one user's balance in Postgres, which BUY raises by one and SELL lowers by one.

POST /buy, POST /sell and GET /balance each answer JSON {"balance": n, "served_by": NAME}, NAME being the
container that answered (its hostname). SELL at 0 answers 409 {"error": "nothing to sell", "balance": 0}.
The database is reached as DB_HOST, DB_USER, DB_PASSWORD and DB_NAME say: in the monolith, Postgres runs beside
the API, on localhost.
"""

import os
import socket

import psycopg2
from flask import Flask, jsonify

app = Flask(__name__)

DATABASE = {
    "host": os.environ.get("DB_HOST", "localhost"),
    "user": os.environ.get("DB_USER", "wallet"),
    "password": os.environ.get("DB_PASSWORD", "wallet-password"),
    "dbname": os.environ.get("DB_NAME", "crypto"),
}
USER = "default"  # the one user of this wallet
SERVED_BY = socket.gethostname()

_table_ready = False


def connect():
    """A connection to the database, with the wallets table there (created, with the user at 0, on first use)."""
    global _table_ready
    connection = psycopg2.connect(connect_timeout=3, **DATABASE)
    if not _table_ready:
        with connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS wallets (name text PRIMARY KEY, balance integer NOT NULL)")
            cursor.execute("INSERT INTO wallets VALUES (%s, 0) ON CONFLICT (name) DO NOTHING", (USER,))
        _table_ready = True
    return connection


def answer(statement):
    """Run one statement returning the balance (or nothing) and answer with the balance now."""
    connection = connect()
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(statement, (USER,))
            row = cursor.fetchone()
            if row is None:  # a sell at 0 changed nothing
                cursor.execute("SELECT balance FROM wallets WHERE name = %s", (USER,))
                return jsonify(error="nothing to sell", balance=cursor.fetchone()[0], served_by=SERVED_BY), 409
            return jsonify(balance=row[0], served_by=SERVED_BY)
    finally:
        connection.close()


@app.get("/balance")
def balance():
    return answer("SELECT balance FROM wallets WHERE name = %s")


@app.post("/buy")
def buy():
    return answer("UPDATE wallets SET balance = balance + 1 WHERE name = %s RETURNING balance")


@app.post("/sell")
def sell():
    return answer("UPDATE wallets SET balance = balance - 1 WHERE name = %s AND balance > 0 RETURNING balance")


@app.errorhandler(psycopg2.OperationalError)
def database_away(error):
    """Postgres is not answering yet (it starts beside the API) or any more: say so, and try again later."""
    return jsonify(error=f"the database does not answer: {str(error).strip()[:200]}"), 503
