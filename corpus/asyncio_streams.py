"""The TCP echo server of Python's asyncio documentation ("TCP echo server using streams"), in its
shape: one `read(100)`, the reply, then close. Loopback only; the port comes from argv."""
import asyncio
import sys


async def handle_echo(reader, writer):
    data = await reader.read(100)
    writer.write(data)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main(port):
    server = await asyncio.start_server(handle_echo, "127.0.0.1", port)
    print(f"serving on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
