// The echo server of Node.js's `net` documentation, reduced to its core: each connection's
// readable side is piped into its writable side. Loopback only; the port comes from argv.
const net = require('node:net');
const port = Number(process.argv[2]);
const server = net.createServer((socket) => {
  socket.on('error', () => {}); // a client reset is not the server's problem
  socket.pipe(socket);
});
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
