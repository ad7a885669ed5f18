"""Run on a ZooKeeper node: ask its own client port four-letter words, print {word: answer} as JSON.

    python3 - PORT TIMEOUT WORD...   < this file

For when the controller cannot reach the client port itself. A word that
could not be asked maps to {"error": ..., "refused": bool}.
"""

import json
import socket
import sys


def ask(port: int, timeout: float, word: str):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(word.encode())
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode("utf-8", "replace")
    except (ConnectionRefusedError, ConnectionResetError) as exc:
        return {"error": str(exc), "refused": True}
    except OSError as exc:
        return {"error": str(exc) or type(exc).__name__, "refused": False}


def main(argv: list[str]) -> None:
    port, timeout, words = int(argv[0]), float(argv[1]), argv[2:]
    print(json.dumps({word: ask(port, timeout, word) for word in words}))


main(sys.argv[1:])
