"""A unix-socket proxy in front of the Docker engine that counts the container-list calls made through it.

The dashboard under test gets DOCKER_HOST=unix://PROXY; every byte goes on to the engine's socket unchanged,
and each `GET /containers/json` request line that passes is counted.
"""

import asyncio
import re
import threading

REQUEST_LINE = re.compile(rb"(?:GET|HEAD|POST|PUT|DELETE) (\S+) HTTP/1\.[01]\r\n")
CONTAINER_LIST = re.compile(rb"(?:/v[0-9.]+)?/containers/json(?:\?|$)")
KEEP = 512  # bytes kept from the previous chunk, so a request line split between two chunks is still seen


class CountingProxy:
    def __init__(self, listen_path, engine_path="/var/run/docker.sock"):
        self.listen_path, self.engine_path = str(listen_path), engine_path
        self.list_calls = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()

    def start(self):
        threading.Thread(target=self._serve_forever, name="counting-proxy", daemon=True).start()
        self._ready.wait(10)
        return self

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _serve_forever(self):
        self._loop.run_until_complete(asyncio.start_unix_server(self._connection, path=self.listen_path))
        self._ready.set()
        self._loop.run_forever()

    async def _connection(self, client_reader, client_writer):
        engine_reader, engine_writer = await asyncio.open_unix_connection(self.engine_path)
        await asyncio.gather(self._pipe(client_reader, engine_writer, count=True),
                             self._pipe(engine_reader, client_writer))

    async def _pipe(self, reader, writer, count=False):
        seen = b""
        try:
            while data := await reader.read(65536):
                if count:
                    window = seen + data
                    self.list_calls += sum(
                        1 for line in REQUEST_LINE.finditer(window)
                        if line.end() > len(seen) and CONTAINER_LIST.match(line[1])
                    )
                    seen = window[-KEEP:]
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
