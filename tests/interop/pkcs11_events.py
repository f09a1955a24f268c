"""Hot-plug through our PKCS#11 module with PyKCS11 (a client we did not
write): a card taken out of its reader is an event, its sessions end, and a
card put back is an event again (C_WaitForSlotEvent, both non-blocking and
blocking).

    pkcs11_events.py MODULE SERVE_PID -- CMD...   (CMD puts the card back)
"""
import subprocess
import sys
import time

import PyKCS11

module, serve_pid, command = sys.argv[1], int(sys.argv[2]), sys.argv[4:]
lib = PyKCS11.PyKCS11Lib()
lib.load(module)


def no_event():
    try:
        slot = lib.waitForSlotEvent(PyKCS11.CKF_DONT_BLOCK)
    except PyKCS11.PyKCS11Error as e:
        assert e.value == PyKCS11.CKR_NO_EVENT, e
        return True
    raise AssertionError(f"unexpected event on slot {slot}")


assert no_event(), "no event at start"
session = lib.openSession(0, PyKCS11.CKF_SERIAL_SESSION)
session.login("1234")
key = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY)])[0]

# The card leaves the reader.
subprocess.run(["kill", str(serve_pid)], check=True)
deadline = time.time() + 15
slot = None
while time.time() < deadline and slot is None:
    try:
        slot = lib.waitForSlotEvent(PyKCS11.CKF_DONT_BLOCK)
    except PyKCS11.PyKCS11Error:
        time.sleep(0.2)
assert slot == 0, f"removal event: {slot}"
try:
    session.sign(key, b"after removal", PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS, None))
    raise AssertionError("a session of a removed card signed")
except PyKCS11.PyKCS11Error as e:
    assert e.value in (PyKCS11.CKR_SESSION_HANDLE_INVALID, PyKCS11.CKR_DEVICE_REMOVED), e
assert 0 not in lib.getSlotList(tokenPresent=True), "no token in the empty reader"
print("removal: event on slot 0, the session ended", flush=True)

# The card comes back while a blocking wait runs (the server starts a
# second later; PyKCS11 holds the GIL while it waits, so not from a thread).
server = subprocess.Popen(["sh", "-c", 'sleep 1; exec "$0" "$@"', *command])
slot = lib.waitForSlotEvent(0)
assert slot == 0, f"insertion event: {slot}"
deadline = time.time() + 15
while 0 not in lib.getSlotList(tokenPresent=True) and time.time() < deadline:
    time.sleep(0.2)
info = lib.getTokenInfo(0)
assert info.model.strip() == "JPKIAPICCTOKEN2", info.model
print("insertion: blocking wait returned slot 0, the token is back", flush=True)
server.terminate()
