"""Sending: the durable send queue. A send is a row first, then sent in order per chat by the client's pool.

dispatcher.Dispatcher owns one client's queue; admission is its door, chat_lines its open sends,
sender the pool that sends, ratecap the pace, recipients the JIDs asked of WhatsApp, outcome and
wait_slots what a waiting request is told, send_status the acks that follow; queue_load and
queue_upkeep load and tidy the table for every client.
"""
