"""Reports and notifications through a real SMTP server on 127.0.0.1 (aiosmtpd) with STARTTLS and
login; the message is parsed back: subject, plain-text part, HTML part, inline chart."""
from __future__ import annotations

import pytest

from ops.mail import MailError, SmtpConfig, build_message, recipients, send
from ops.render import Rendered
from tests.ops.smtp import PASSWORD, USER, start_server


@pytest.fixture
def smtp(tmp_path):
    server = start_server(tmp_path)
    yield server
    server.stop()


def config(server, password=PASSWORD) -> SmtpConfig:
    return SmtpConfig(server.host, server.port, USER, password, "mraster@example.test", server.client_context)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def test_a_report_arrives_whole(smtp):
    rendered = Rendered("mraster production report 2026-11-20", "<html><body><h1>Report</h1>"
                        "<img src=\"cid:pnl\"></body></html>", "Report\nBTCUSDT 2 trades\n", {"pnl": PNG})
    to = recipients("ops@example.test; desk@example.test")
    send(config(smtp), build_message(rendered, "mraster@example.test", to))
    assert smtp.box.logins == [USER]
    assert smtp.box.envelopes == [("mraster@example.test", ["ops@example.test", "desk@example.test"])]
    msg = smtp.box.messages[0]
    assert msg["Subject"] == "mraster production report 2026-11-20"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Report\nBTCUSDT 2 trades\n"
    html_part = msg.get_body(("html",))
    html = html_part.get_content()
    assert "<h1>Report</h1>" in html
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0].get_content() == PNG
    cid = images[0]["Content-ID"].strip("<>")
    assert f"cid:{cid}" in html                       # the HTML shows the chart inline
    assert PASSWORD not in msg.as_string()


def test_wrong_password_is_a_clear_error_without_the_password(smtp):
    with pytest.raises(MailError) as exc:
        send(config(smtp, "wrong-password-123"), build_message(Rendered("s", "<p>x</p>", "x"), "a@b.test", ["c@d.test"]))
    assert "refused the login" in str(exc.value) and "wrong-password-123" not in str(exc.value)
    assert smtp.box.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")   # that server is the point
def test_no_starttls_no_login(tmp_path):
    server = start_server(tmp_path, starttls=False)
    try:
        with pytest.raises(MailError, match="does not offer STARTTLS"):
            send(config(server), build_message(Rendered("s", "<p>x</p>", "x"), "a@b.test", ["c@d.test"]))
        assert server.box.logins == []
    finally:
        server.stop()


def test_missing_settings_are_named():
    with pytest.raises(MailError, match="ASTER_EMAIL_SMTP_HOST is not set; ASTER_EMAIL_FROM is not set"):
        send(SmtpConfig("", 587, "u", "p", ""), build_message(Rendered("s", "<p>x</p>", "x"), "a@b.test", ["c@d"]))
    assert "secretpass" not in repr(SmtpConfig("h", 1, "u", "secretpass", "f"))


def test_report_command_sends_through_the_server(work, smtp, tmp_path):
    """`mraster ops report --mode backtest --send` end to end, settings from files, password from .env."""
    ranked = work.root / "results" / "ranked_metrics.csv"
    ranked.parent.mkdir()
    ranked.write_text("rank,symbol_rank,symbol,k,is_total_pnl\n1,1,LINKUSDT,2.0,55.5\n2,2,LINKUSDT,3.0,40\n")
    work.config({"ASTER_PAPER": True, "ASTER_EMAIL_BACKTEST_ENABLE": True, "ASTER_EMAIL_SMTP_HOST": "127.0.0.1",
                 "ASTER_EMAIL_SMTP_PORT": smtp.port, "ASTER_EMAIL_SMTP_USER": USER,
                 "ASTER_EMAIL_FROM": "mraster@example.test", "ASTER_EMAIL_TO_BACKTEST": "quant@example.test"})
    dotenv = work.root / ".env"
    dotenv.write_text(f"ASTER_EMAIL_SMTP_PASS={PASSWORD}\n")
    dotenv.chmod(0o600)
    cafile = tmp_path / "smtp-tls" / "cert.pem"
    res = work.mraster("ops", "report", "--mode", "backtest", "--send", extra_env={"SSL_CERT_FILE": str(cafile)})
    assert res.returncode == 0, res.stderr
    assert "report sent to 1 recipient(s)" in res.stderr
    msg = smtp.box.messages[0]
    assert msg["To"] == "quant@example.test" and "LINKUSDT: top 2" in msg.get_body(("plain",)).get_content()
    assert PASSWORD not in res.stdout + res.stderr
    assert PASSWORD not in (work.root / "logs" / "ops.jsonl").read_text()
    assert "ops.report.sent" in (work.root / "logs" / "ops.jsonl").read_text()


def test_notifications_by_email(smtp):
    from ops.notify import Dispatcher, EmailSink, Event
    disp = Dispatcher([EmailSink(config(smtp), ["ops@example.test"])], retries=0).start()
    disp.submit(Event("kill_switch", "KILL-SWITCH: margin ratio 1.1", "2026-11-20T10:00:00Z"))
    disp.submit(Event("exit", "BTCUSDT closed"))
    assert disp.wait_idle(30)
    disp.close()
    assert disp.failed == [] and 1 <= len(smtp.box.messages) <= 2     # one mail per batch
    assert smtp.box.messages[0]["Subject"].startswith("mraster: Kill-switch fired")
    body = "".join(m.get_body(("plain",)).get_content() for m in smtp.box.messages)
    assert "KILL-SWITCH: margin ratio 1.1" in body and "BTCUSDT closed" in body
