"""The quick-start job: ingest the bundled samples, serve the API, show a chat turn.

Run by ``./quickstart.sh``; each issue extends it as its part lands.
"""

from __future__ import annotations


def main() -> None:
    raise SystemExit("the demo is being built: see the README")


if __name__ == "__main__":
    main()
