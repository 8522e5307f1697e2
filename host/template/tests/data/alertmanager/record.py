#!/usr/bin/env python3
# Records what Debian's amtool (Alertmanager 0.25) renders for every define of Alertmanager 0.34's
# default templates with each data set here: writes <dataset>.expected.json ({"text": {define: output},
# "html": {define: output}}; an error is recorded as {"error": text}).
# Usage: record.py [CONFORMANCE_DIR]   (default ../shared/conformance from the repository root)
import json, os, re, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
conf = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WASMETHEUS_CONFORMANCE", os.path.join(here, "../../../../../../shared/conformance"))
tdir = os.path.join(conf, "alertmanager", "template")
files = [os.path.join(tdir, "default.tmpl"), os.path.join(tdir, "email.tmpl")]
names = []
for f in files:
    names += re.findall(r'define "([^"]+)"', open(f).read())
html_names = ["email.default.html", "email.default.subject"]
for ds in sorted(x for x in os.listdir(here) if x.endswith(".json") and not x.endswith(".expected.json") and not x.startswith("custom_")):
    out = {"text": {}, "html": {}}
    for mode, ns in (("text", names), ("html", html_names)):
        for n in ns:
            args = ["amtool", "template", "render", "--template.type=" + mode, "--template.data=" + os.path.join(here, ds),
                    "--template.text={{ template \"%s\" . }}" % n]
            args += ["--template.glob=" + f for f in files]
            r = subprocess.run(args, capture_output=True, text=True)
            out[mode][n] = r.stdout if r.returncode == 0 else {"error": r.stderr.strip()}
    with open(os.path.join(here, ds[:-5] + ".expected.json"), "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False, sort_keys=True)
        fh.write("\n")

# Template texts of our own (custom_cases.json) rendered with the first data set.
cases = json.load(open(os.path.join(here, "custom_cases.json")))
out = []
for case in cases:
    mode = "html" if case.get("html") else "text"
    args = ["amtool", "template", "render", "--template.type=" + mode, "--template.data=" + os.path.join(here, "firing.json"),
            "--template.text=" + case["text"]] + ["--template.glob=" + f for f in files]
    r = subprocess.run(args, capture_output=True, text=True)
    out.append(r.stdout if r.returncode == 0 else {"error": r.stderr.strip()})
with open(os.path.join(here, "custom_cases.expected.json"), "w") as fh:
    json.dump(out, fh, indent=1, ensure_ascii=False)
    fh.write("\n")
