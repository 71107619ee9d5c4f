"""Every getopt_long table in src/cli gives each option its own code, counting the shared
CLI_HTTP_OPTIONS it expands: two options with one code make the later one act as the
earlier (cairn server's --monitor-poll once set the port). Prints the collisions; exit 1."""
import glob
import re
import sys

ENTRY = r"\{ \"([\w-]+)\", \w+, NULL, ('.'|0x[0-9a-fA-F]+|\d+) \}"
root = sys.argv[1] if len(sys.argv) > 1 else "."
shared = re.findall(ENTRY, open(root + "/src/cli/http_opts.h").read())
bad = 0
for path in sorted(glob.glob(root + "/src/cli/*.c")):
    text = open(path).read()
    for m in re.finditer(r"struct option \w+\[\] = \{(.*?)\n\t*\};", text, re.S):
        entries = re.findall(ENTRY, m.group(1)) + (shared if "CLI_HTTP_OPTIONS" in m.group(1) else [])
        codes = [c for _, c in entries]
        for code in sorted({c for c in codes if codes.count(c) > 1}):
            bad += 1
            print("%s:%d: options %s share the code %s" % (path, text[:m.start()].count("\n") + 1,
                  ", ".join("--" + n for n, c in entries if c == code), code))
sys.exit(1 if bad else 0)
