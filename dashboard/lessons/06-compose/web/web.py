"""The web service: a page showing what it fetched from the api service, asked by its name (http://api:8000/)."""

import html
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "http://api:8000/"  # `api` is the other service's name: Compose's network resolves it to its container


class Page(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with urllib.request.urlopen(API, timeout=5) as answer:
                status, said, fetched = 200, f"It asked {API} and got:", answer.read().decode(errors="replace")
        except OSError as error:
            status, said, fetched = 502, f"It asked {API}, which did not answer:", str(error)
        body = ("<!doctype html>\n<title>The web service</title>\n<h1>The web service</h1>\n"
                f"<p>{html.escape(said)}</p>\n<pre>{html.escape(fetched.strip())}</pre>\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    print(f"web: serving on port 8000 the page of what {API} answers", flush=True)
    try:
        ThreadingHTTPServer(("", 8000), Page).serve_forever()
    except KeyboardInterrupt:  # the stop signal (SIGINT): end at once
        pass
