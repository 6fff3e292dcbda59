"""A Hugging Face Hub-shaped HTTP server on loopback that serves local model folders.

Point ``HF_ENDPOINT`` at :attr:`HubServer.endpoint` and ``huggingface_hub``
(``snapshot_download``, ``hf_hub_download``, ``HfApi().model_info``,
``list_repo_files``), faster-whisper's ``download_model`` and transformers'
``from_pretrained`` fetch a repo id from it as from the Hub. It answers the
routes those clients use and counts every request, so a test can tell how
often a model was downloaded::

    with HubServer({"Systran/faster-whisper-base": whisper_folder}) as hub:
        env = {"HF_ENDPOINT": hub.endpoint}
        ...
        assert hub.downloads("Systran/faster-whisper-base", "model.bin") == 1

Routes (as huggingface_hub 2.4 asks them):

- ``GET /api/models/{repo}[/revision/{rev}]``: model info with ``sha`` and ``siblings``;
- ``GET /api/models/{repo}/tree/{rev}[/{path}]``: the file listing (one page);
- ``POST /api/models/{repo}/paths-info/{rev}``: listing entries of named paths;
- ``HEAD|GET /{repo}/resolve/{rev}/{file}``: the file, with ``X-Repo-Commit``,
  ``ETag`` and, for large files stored as LFS on the Hub, ``X-Linked-Etag``
  and ``X-Linked-Size``; ``Range`` requests are honoured (resumed downloads).

A missing repository or file is a 404 with the ``X-Error-Code`` the Hub sends
(``RepoNotFound``, ``EntryNotFound``, ``RevisionNotFound``), which the clients
turn into their specific errors. Xet storage is never offered, so clients
download over plain HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

#: Files at least this large are listed and served as Git LFS files, as the Hub does for weights.
LFS_THRESHOLD = 1024 * 1024
#: Files the harness itself writes into cache folders; never part of a repository.
IGNORED = {".complete"}


@dataclass(frozen=True)
class RepoFile:
    """One file of a served repository."""

    path: str  # relative, with forward slashes
    source: Path
    size: int
    git_oid: str  # git blob sha1
    sha256: str

    @property
    def is_lfs(self) -> bool:
        return self.size >= LFS_THRESHOLD

    @property
    def etag(self) -> str:
        return self.sha256 if self.is_lfs else self.git_oid

    def tree_entry(self) -> dict:
        entry = {"type": "file", "oid": self.git_oid, "size": self.size, "path": self.path}
        if self.is_lfs:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": 134}
        return entry


@dataclass(frozen=True)
class Repo:
    """A served repository: one local folder at one made-up commit."""

    repo_id: str
    files: dict[str, RepoFile]
    commit: str

    @classmethod
    def from_folder(cls, repo_id: str, folder: Path) -> Repo:
        files = {}
        digest = hashlib.sha1(repo_id.encode())
        for source in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            path = source.relative_to(folder).as_posix()
            if source.name in IGNORED or any(part.startswith(".") for part in path.split("/")):
                continue
            git = hashlib.sha1()
            sha = hashlib.sha256()
            size = source.stat().st_size
            git.update(f"blob {size}\0".encode())
            with open(source, "rb") as f:
                while chunk := f.read(1 << 20):
                    git.update(chunk)
                    sha.update(chunk)
            files[path] = RepoFile(path, source, size, git.hexdigest(), sha.hexdigest())
            digest.update(f"{path}\0{files[path].git_oid}\0".encode())
        return cls(repo_id, files, digest.hexdigest())

    def resolves(self, revision: str) -> bool:
        return revision in ("main", self.commit)

    def info(self) -> dict:
        return {
            "_id": self.commit[:24],
            "id": self.repo_id,
            "modelId": self.repo_id,
            "sha": self.commit,
            "private": False,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "lastModified": "2024-01-01T00:00:00.000Z",
            "createdAt": "2024-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": path} for path in self.files],
        }

    def tree(self, prefix: str, recursive: bool) -> list[dict]:
        prefix = prefix.strip("/")
        entries, folders = [], set()
        for path, file in self.files.items():
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1 :] if prefix else path
            if "/" in rest and not recursive:
                folders.add(f"{prefix}/{rest.split('/')[0]}".lstrip("/"))
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                for n in range(1, len(parts) + 1):
                    folders.add("/".join([*([prefix] if prefix else []), *parts[:n]]))
            entries.append(file.tree_entry())
        oid = "0" * 40
        return [
            {"type": "directory", "oid": oid, "size": 0, "path": f} for f in sorted(folders)
        ] + [*entries]


class HubServer:
    """Serves ``{repo_id: folder}`` on 127.0.0.1 as the Hub does; a context manager."""

    def __init__(self, repos: dict[str, Path | str], port: int = 0):
        self.repos = {rid: Repo.from_folder(rid, Path(folder)) for rid, folder in repos.items()}
        self.requests: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests[(method, path)] += 1

    def count(self, method: str | None = None, contains: str = "") -> int:
        """How many requests (of ``method``, to a path containing ``contains``) were made."""
        with self._lock:
            return sum(
                n
                for (m, path), n in self.requests.items()
                if (method is None or m == method) and contains in path
            )

    def downloads(self, repo_id: str, filename: str | None = None) -> int:
        """How many times a file of ``repo_id`` (or ``filename`` only) was fetched with GET."""
        with self._lock:
            return sum(
                n
                for (m, path), n in self.requests.items()
                if m == "GET"
                and path.startswith(f"/{repo_id}/resolve/")
                and (filename is None or path.endswith(f"/{filename}"))
            )

    def find_repo(self, path: str) -> tuple[Repo, str] | None:
        """The served repo whose id ``path`` starts with, and the rest of the path."""
        for repo_id in sorted(self.repos, key=len, reverse=True):
            if path == repo_id or path.startswith(repo_id + "/"):
                return self.repos[repo_id], path[len(repo_id) :]
        return None


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet: the counts are the record
            pass

        def do_HEAD(self):
            self._route("HEAD")

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            hub.record(method, path)
            query = parse_qs(url.query)
            body = b""
            if method == "POST":
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if path.startswith("/api/models/"):
                found = hub.find_repo(path[len("/api/models/") :])
                if found is None:
                    return self._error(404, "RepoNotFound", "Repository not found")
                repo, rest = found
                return self._api(method, repo, rest, query, body)
            found = hub.find_repo(path.lstrip("/"))
            if found is None:
                return self._error(404, "RepoNotFound", "Repository not found")
            repo, rest = found
            m = re.fullmatch(r"/resolve/([^/]+)/(.+)", rest)
            if not m or method not in ("GET", "HEAD"):
                return self._error(404, None, "Not found")
            revision, filename = m.groups()
            if not repo.resolves(revision):
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            file = repo.files.get(filename)
            if file is None:
                return self._error(404, "EntryNotFound", f"{filename} does not exist", repo)
            return self._file(method, repo, file)

        def _api(self, method, repo: Repo, rest: str, query, body: bytes) -> None:
            if rest in ("", "/") and method == "GET":
                return self._json(repo.info(), repo)
            m = re.fullmatch(r"/revision/([^/]+)", rest)
            if m and method == "GET":
                if not repo.resolves(m.group(1)):
                    return self._error(404, "RevisionNotFound", f"Invalid rev id: {m.group(1)}")
                return self._json(repo.info(), repo)
            m = re.fullmatch(r"/tree/([^/]+)(/.*)?", rest)
            if m and method == "GET":
                if not repo.resolves(m.group(1)):
                    return self._error(404, "RevisionNotFound", f"Invalid rev id: {m.group(1)}")
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                return self._json(repo.tree(m.group(2) or "", recursive), repo)
            m = re.fullmatch(r"/paths-info/([^/]+)", rest)
            if m and method == "POST":
                if not repo.resolves(m.group(1)):
                    return self._error(404, "RevisionNotFound", f"Invalid rev id: {m.group(1)}")
                paths = _posted_paths(body, self.headers.get("Content-Type", ""))
                entries = [repo.files[p].tree_entry() for p in paths if p in repo.files]
                return self._json(entries, repo)
            return self._error(404, None, "Not found")

        def _file(self, method: str, repo: Repo, file: RepoFile) -> None:
            start, end = 0, file.size - 1
            status = 200
            ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "").strip())
            if ranged and file.size:
                start = int(ranged.group(1))
                end = min(int(ranged.group(2) or end), file.size - 1)
                if start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{file.size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(end - start + 1 if file.size else 0))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", f'"{file.etag}"')
            if file.is_lfs:
                self.send_header("X-Linked-Etag", f'"{file.sha256}"')
                self.send_header("X-Linked-Size", str(file.size))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{file.size}")
            self.end_headers()
            if method == "HEAD" or not file.size:
                return
            with open(file.source, "rb") as f:
                f.seek(start)
                left = end - start + 1
                while left > 0:
                    chunk = f.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)

        def _json(self, data, repo: Repo | None = None) -> None:
            payload = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if repo is not None:
                self.send_header("X-Repo-Commit", repo.commit)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _error(self, status: int, code: str | None, message: str, repo=None) -> None:
            payload = json.dumps({"error": message}).encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if repo is not None:
                self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    return Handler


def _posted_paths(body: bytes, content_type: str) -> list[str]:
    if "json" in content_type:
        data = json.loads(body or b"{}")
        paths = data.get("paths", [])
        return [paths] if isinstance(paths, str) else list(paths)
    return parse_qs(body.decode()).get("paths", [])


if __name__ == "__main__":
    import sys
    import time

    if len(sys.argv) < 3 or len(sys.argv) % 2 != 1:
        print("usage: python tests/hub_server.py REPO_ID FOLDER [REPO_ID FOLDER ...]")
        sys.exit(2)
    pairs = dict(zip(sys.argv[1::2], sys.argv[2::2], strict=True))
    with HubServer(pairs) as hub:
        print(f"HF_ENDPOINT={hub.endpoint}", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
