// Tests only: a local SMSC. It checks the bind's credentials (SYSTEM_ID, PASSWORD), accepts
// every submit_sm, and prints one JSON line per PDU on standard output ({"port": N} first).
'use strict';
const smpp = require('smpp');

const systemId = process.env.SYSTEM_ID || 'maillage';
const password = process.env.PASSWORD || 'secret';
let counter = 0;

function say(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

const server = smpp.createServer(function (session) {
  session.on('error', function (error) {
    say({ event: 'error', reason: String(error) });
  });
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  function bind(pdu) {
    if (pdu.system_id !== systemId || pdu.password !== password) {
      say({ event: 'bind_refused', system_id: pdu.system_id });
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    say({ event: 'bind', system_id: pdu.system_id });
    session.send(pdu.response());
  }
  session.on('submit_sm', function (pdu) {
    counter += 1;
    const message = pdu.short_message || {};
    const udh = (message.udh || []).map(function (part) { return part.toString('hex'); });
    say({
      event: 'submit_sm',
      message_id: 'm' + counter,
      source_addr: pdu.source_addr,
      source_addr_ton: pdu.source_addr_ton,
      destination_addr: pdu.destination_addr,
      dest_addr_ton: pdu.dest_addr_ton,
      data_coding: pdu.data_coding,
      udh: udh,
      text: Buffer.isBuffer(message.message) ? message.message.toString('hex') : message.message,
    });
    session.send(pdu.response({ message_id: 'm' + counter }));
  });
  session.on('enquire_link', function (pdu) {
    session.send(pdu.response());
  });
  session.on('unbind', function (pdu) {
    session.send(pdu.response());
    session.close();
  });
});

server.listen(0, '127.0.0.1', function () {
  say({ port: server.address().port });
});
