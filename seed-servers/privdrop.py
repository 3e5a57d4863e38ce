#!/usr/bin/env python3
"""Seed model `privdrop`: the basic server on the privileged echo port, dropping root to
nobody:nogroup with umask 007 after bind().

Mirrors: seed-python-network-servers.txt, section "Permissions Dropping" (PORT = 7,
drop_privileges(uid_name='nobody', gid_name='nogroup')). drop_privileges is the widely copied
Stack Overflow snippet; its lost lines are restored from it.

Seed text, as printed (restored lines marked [lost]):
    def drop_privileges(uid_name='nobody', gid_name='nogroup'):
        if os.getuid() != 0:
            # We're not root so, like, whatever dude
            return                                               # [lost]

        # Get the uid/gid from the name
        running_uid = pwd.getpwnam(uid_name).pw_uid
        running_gid = grp.getgrnam(gid_name).gr_gid

        # Remove group privileges
        os.setgroups([])                                         # [lost]

        # Try setting the new uid/gid
        os.setgid(running_gid)                                   # [lost]
        os.setuid(running_uid)                                   # [lost]

        # owner/group r+w
        old_umask = os.umask(0x007)

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, PORT))
        drop_privileges()                                        # [lost; must follow bind: port 7]
        print(f'Server bound to port {PORT}')
        s.listen(1)                                              # [lost; as in the Basic Server]
        conn, addr = s.accept()
        with conn:
            print('Connected by', addr)
            while True:
                data = conn.recv(1024)
                if not data: break
                conn.sendall(data)                               # [lost]

Behaviour kept on purpose: `os.umask(0x007)` (hex 7 == octal 007); the root test is `os.getuid()`
(real uid) and a non-root start silently skips the drop; no check that the drop worked (os.setgid /
os.setuid raise on failure, which ends the program); a single connection, then exit 0, as the Basic
Server; a client reset ends it with ConnectionResetError and status 1; started as a non-root user,
bind() to port 7 raises PermissionError [Errno 13] and the program exits 1.

Deviations from the seed (and nothing else):
  1. PORT comes from the command line (`--port N`, or a bare positional N) instead of 7; the
     kit substitutes 7 for `{port}` when it runs the privileged cases as root.
  2. HOST is '127.0.0.1' (loopback only) instead of '' (all interfaces).
  3. stdout is line-buffered so the seed's own print() lines reach the runner's log promptly.

Launch (as root): python3 seed-servers/privdrop.py --port {port}
"""
import socket, os, pwd, grp
import sys


def _port():
    args = sys.argv[1:]
    if args[:1] == ["--port"]:
        args = args[1:]
    elif args and args[0].startswith("--port="):
        args = [args[0].split("=", 1)[1]]
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: privdrop.py --port N")
    return int(args[0])


sys.stdout.reconfigure(line_buffering=True)

# Echo server program
HOST = '127.0.0.1'        # seed: '' (all interfaces); deviation 2
PORT = _port()            # seed: 7 (well known echo port); deviation 1


def drop_privileges(uid_name='nobody', gid_name='nogroup'):
    if os.getuid() != 0:
        # We're not root so, like, whatever dude
        return

    # Get the uid/gid from the name
    running_uid = pwd.getpwnam(uid_name).pw_uid
    running_gid = grp.getgrnam(gid_name).gr_gid

    # Remove group privileges
    os.setgroups([])

    # Try setting the new uid/gid
    os.setgid(running_gid)
    os.setuid(running_uid)

    # owner/group r+w
    old_umask = os.umask(0x007)


with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    drop_privileges()
    print(f'Server bound to port {PORT}')
    s.listen(1)
    conn, addr = s.accept()
    with conn:
        print('Connected by', addr)
        while True:
            data = conn.recv(1024)
            if not data: break
            conn.sendall(data)
