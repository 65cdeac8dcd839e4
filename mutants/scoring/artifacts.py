"""Build artifacts: every ELF executable and static library under the build directory, hashed, so
that a mutant's rebuild shows which of them it changed."""
import hashlib
import os
import re


def artifact_paths(build):
    out = []
    for d, dirs, files in os.walk(build):
        dirs[:] = [x for x in dirs if x not in ("CMakeFiles", "Testing")]
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            if f.endswith(".a"):
                out.append(p)
            elif os.access(p, os.X_OK):
                with open(p, "rb") as fh:
                    if fh.read(4) == b"\x7fELF":
                        out.append(p)
    return sorted(out)


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Artifacts:
    def __init__(self, build):
        self.build = build
        self.state = {}  # path -> (mtime_ns, size, sha)

    def refresh(self):
        """Re-stat every artifact, hashing only those whose mtime or size moved. Returns {path: sha}."""
        now = {}
        for p in artifact_paths(self.build):
            st = os.stat(p)
            old = self.state.get(p)
            if old and old[0] == st.st_mtime_ns and old[1] == st.st_size:
                now[p] = old
            else:
                now[p] = (st.st_mtime_ns, st.st_size, sha256(p))
        self.state = now
        return {p: v[2] for p, v in now.items()}


def embedded_paths(exe, build, artifacts):
    """Artifacts whose absolute path is compiled into exe (NVFP4_BIN="<build>/tools/nvfp4")."""
    if exe.endswith(".a"):
        return set()
    data = open(exe, "rb").read()
    found = set()
    for m in re.finditer(re.escape(build.encode()) + rb"/[\x21-\x7e]+", data):
        p = m.group(0).decode(errors="replace")
        if p in artifacts and p != exe:
            found.add(p)
    return found
