"""`replywatch check-config` through the real binary: a table of broken configurations,
each must exit non-zero and print its sentence with file:line; a good one exits 0; a
secret never appears in the output."""
import os
import subprocess

from harness import Workdir, check, run

GOOD = """accounts:
  - name: acme
sources:
  - name: s
    type: export
    account: acme
    channel: export
"""

# (name, yaml, expected line, expected sentence fragment)
BROKEN = [
    ("typo in account key", "accounts:\n  - name: acme\n    treshold: 1h\n", 3,
     'unknown key "treshold" in account "acme"; did you mean "threshold"?'),
    ("unknown top-level key", "acounts:\n  - name: acme\n", 1, 'unknown key "acounts"'),
    ("yaml syntax", "accounts:\n  - name: [acme\n", 0, ""),
    ("invalid duration", "accounts:\n  - name: acme\n    threshold: soon\n", 3, "threshold"),
    ("invalid time zone", "accounts:\n  - name: acme\n    timezone: Europe/Pariss\n", 3,
     'unknown time zone "Europe/Pariss"'),
    ("unknown source type", GOOD.replace("type: export", "type: rss"), 5, 'unknown source type "rss"'),
    ("unknown account in source", GOOD.replace("account: acme", "account: nobody"), 6, "nobody"),
    ("unknown export setting", GOOD + "    spool_dri: /tmp\n", 8, "spool_dri"),
    ("invalid handler route", GOOD + "handlers:\n  - name: h\n    route: outsourced\n    match: {text: x}\n", 10,
     "outsourced"),
    ("bad regex", GOOD + "handlers:\n  - name: h\n    route: agency\n    match: {text: \"(AB\"}\n", 11, "h"),
    ("unset secret variable", GOOD + "    webhook_secret: ${CHECK_CONFIG_UNSET_VAR}\n", 8,
     "CHECK_CONFIG_UNSET_VAR is not set"),
    ("secret variable set to nothing", GOOD + "    webhook_secret: ${CHECK_CONFIG_EMPTY_VAR}\n", 8,
     '"webhook_secret" is empty'),
    ("empty secret", GOOD + "    webhook_secret: \"\"\n", 8, '"webhook_secret" is empty'),
    ("key without a value", "web:\n  listen_address:\n" + GOOD, 2, '"listen_address" in web has no value'),
    ("section without a value", "store:\n" + GOOD, 1, '"store" in the top level has no value'),
]


def test(binary):
    os.environ["CHECK_CONFIG_EMPTY_VAR"] = ""
    with Workdir() as work:
        def check_config(name, text):
            path = os.path.join(work, name.replace(" ", "_") + ".yml")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([binary, "check-config", "--config", path], capture_output=True, text=True)
            return path, p

        _, p = check_config("good", GOOD)
        check(p.returncode == 0, "good config refused: %s" % p.stderr)

        for name, text, line, fragment in BROKEN:
            path, p = check_config(name, text)
            check(p.returncode != 0, "%s: exit code 0" % name)
            where = "%s:%d:" % (path, line) if line else path + ":"
            lines = [l for l in p.stderr.splitlines() if l.startswith(where) and fragment in l]
            check(lines, "%s: no line starting %r containing %r in:\n%s" % (name, where, fragment, p.stderr))

        # Several problems are all reported; a secret value is never printed.
        secret = "s3cr3t-value-never-printed"
        os.environ["CHECK_CONFIG_SECRET"] = secret
        text = GOOD.replace("name: acme\n", "name: acme\n    treshold: 1h\n    count: sometimes\n", 1) + \
            "    webhook_secret: ${CHECK_CONFIG_SECRET}\n    spool_dri: x\n"
        _, p = check_config("several", text)
        check(p.returncode != 0, "several problems: exit code 0")
        problems = [l for l in p.stderr.splitlines() if ".yml:" in l]
        check(len(problems) >= 3, "expected at least 3 problems, got:\n%s" % p.stderr)
        check(secret not in p.stdout + p.stderr, "the secret value was printed")

        # The web configuration named by `web.config_file` is checked, as serve loads it.
        web_bad = os.path.join(work, "web-bad.yml")
        with open(web_bad, "w") as f:
            f.write("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  cipher_suites: [x]\n")
        _, p = check_config("web config file", GOOD + "web:\n  config_file: web-bad.yml\n")
        check(p.returncode == 1 and p.stderr.startswith(web_bad + ":") and "cipher_suites" in p.stderr,
              "web.config_file not checked: %d %s" % (p.returncode, p.stderr))

        p = subprocess.run([binary, "check-config", "--config", os.path.join(work, "absent.yml")],
                           capture_output=True, text=True)
        check(p.returncode != 0 and "absent.yml" in p.stderr, "missing file: %s" % p.stderr)


if __name__ == "__main__":
    run(test)
