// The network: a loopback NIC with one queue per CPU (each queue a device with its own DV lock and
// IRQ line), 64 connections. A send fills a pool packet outside any lock and queues it on its
// CPU's queue; the IRQ handler "DMAs" it into a posted receive buffer; the lowipl routine checks it,
// queues it on its connection and wakes a receiver.
//
// Locks, in this order: HT ; NP (-> QU) ; CN -> DV -> IRQ line (send) ;
// DV -> IRQ line, DV -> NP (lowipl: finished lists, fresh buffers) ; CN -> EV -> TP -> TC (deliver,
// wake) ; NP. The handler takes only its line's lock (it runs at the line's level).
#include <cstring>

#include "objects.hpp"
#include "smplock/irq.hpp"
#include "smplock/lowipl.hpp"

namespace smplock::pound::detail {

void Kernel::fill_packet(Packet* pk, Connection& conn, std::uint64_t seq) {
  pk->conn = conn.id;
  pk->seq = seq;
  pk->len = kPayloadBytes;
  pk->lost = false;
  std::uint64_t sum = 0;
  const std::uint64_t key = (std::uint64_t{conn.id} << 40) ^ seq;
  for (std::size_t i = 0; i < kPayloadBytes / 8; ++i) {
    const std::uint64_t w = mix(key, i);
    std::memcpy(pk->data + i * 8, &w, 8);
    sum += w;
  }
  pk->sum = sum;
}

bool Kernel::packet_ok(const Packet* pk) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < pk->len / 8; ++i) {
    std::uint64_t w;
    std::memcpy(&w, pk->data + i * 8, 8);
    sum += w;
  }
  return sum == pk->sum;
}

Outcome Kernel::net_send(Cpu& c, Thread& t) {
  Process& p = *t.proc;
  const Handle h = lookup_handle(p, socket_slot(t));
  Connection& conn = *conns_[h.index];
  if ((h.access & 2) == 0) {  // granted when the handle was opened: no security lock here
    ++c.denied;
    return Outcome::Done;
  }
  auto* pk = static_cast<Packet*>(pool->alloc(sizeof(Packet), &p.quota));
  if (pk == nullptr) {
    ++c.net_again;
    return Outcome::Done;
  }
  pk->owner = &p;
  std::uint64_t seq;
  {
    Held cn(conn.cn);
    seq = conn.snd_next++;
    ++conn.in_flight;
  }
  c.io_started.fetch_add(1, std::memory_order_relaxed);
  c.packets.fetch_add(1, std::memory_order_relaxed);
  fill_packet(pk, conn, seq);  // the copy from user space and the checksum, outside any lock
  Nic& nic = *nics_[c.n % nics_.size()];
  {
    Held cn(conn.cn);          // CN -> DV -> IRQ line: the connection queues on its device
    conn.bytes += pk->len;
    Held dv(nic.dv);
    ++nic.sent;
    Held line(nic.line);
    nic.hw_tx.push(pk);
  }
  // The queue interrupts the CPU it belongs to, this one: at Null, the handler and its lowipl
  // routine have run when raise() returns.
  irq::raise(nic.irq, c.index);
  return Outcome::Done;
}

Outcome Kernel::net_recv(Cpu& c, Thread& t, Connection* conn) {
  Process& p = *t.proc;
  if (conn == nullptr) {
    const Handle h = lookup_handle(p, socket_slot(t));
    conn = conns_[h.index].get();
    if ((h.access & 1) == 0) {
      ++c.denied;
      return Outcome::Done;
    }
  }
  Packet* pk = nullptr;
  {
    Held cn(conn->cn);
    pk = conn->rxq.pop();
    if (pk != nullptr) {
      ++conn->dequeued;
    } else if (conn->in_flight > 0 && !wait_flag(conn->flag, t, /*consume=*/true)) {
      // CN -> EV -> TP: nothing queued but a packet is on its way; sleep until it comes.
      t.cont = Continue::NetRecv;
      t.cont_conn = conn;
      return Outcome::Blocked;
    }
  }
  if (pk == nullptr) {
    ++c.net_again;
    return Outcome::Done;
  }
  std::memcpy(t.buf, pk->data, pk->len);  // the copy to user space
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < pk->len / 8; ++i) {
    std::uint64_t w;
    std::memcpy(&w, t.buf + i * 8, 8);
    sum += w;
  }
  if (sum != pk->sum) ++c.verify_failures;
  pool->free(pk, nullptr);
  return Outcome::Done;
}

void Kernel::nic_refill(Nic& nic) {
  // Under nic.dv. Buffers come from the pool outside the line's lock (DV -> NP), then go to the
  // hardware under it.
  Fifo<Packet> fresh;
  while (nic.posted + fresh.count < kRxPosted) {
    auto* pk = static_cast<Packet*>(pool->alloc(sizeof(Packet), nullptr));
    pk->owner = nullptr;
    fresh.push(pk);
  }
  if (fresh.count == 0) return;
  nic.posted += fresh.count;
  Held line(nic.line);
  while (Packet* pk = fresh.pop()) nic.rx_posted.push(pk);
}

void Kernel::nic_irq(void* arg) {
  // At the line's level with its lock held: the "hardware" moves each transmitted packet into a
  // posted receive buffer (loopback) and reports both done.
  Nic& nic = *static_cast<Nic*>(arg);
  while (Packet* tx = nic.hw_tx.pop()) {
    if (Packet* rx = nic.rx_posted.pop(); rx != nullptr) {
      rx->conn = tx->conn;
      rx->seq = tx->seq;
      rx->len = tx->len;
      rx->sum = tx->sum;
      rx->lost = false;
      std::memcpy(rx->data, tx->data, tx->len);  // the DMA
      nic.rx_done.push(rx);
    } else {
      tx->lost = true;
    }
    nic.tx_done.push(tx);
    ++nic.dma;
  }
  if (!nic.dpc_queued && (nic.rx_done.count != 0 || nic.tx_done.count != 0)) {
    nic.dpc_queued = true;
    nic.kernel->this_cpu().lowipl_calls.fetch_add(1, std::memory_order_relaxed);
    lowipl::call(nic_dpc, &nic);
  }
}

void Kernel::nic_dpc(void* arg) {
  Nic& nic = *static_cast<Nic*>(arg);
  Held entry(nic.kernel->kernel_);
  nic.kernel->nic_complete(nic);
}

void Kernel::nic_complete(Nic& nic) {
  // At Softint, no lock held: DV (and the line's lock inside it) to take the finished lists and
  // post new buffers, then each packet to its connection.
  Fifo<Packet> rx, tx;
  {
    Held dv(nic.dv);
    {
      Held line(nic.line);
      rx = nic.rx_done.take();
      tx = nic.tx_done.take();
      nic.dpc_queued = false;
    }
    nic.posted -= rx.count;
    nic.completed += tx.count;
    nic_refill(nic);
  }
  Cpu& c = this_cpu();
  while (Packet* pk = rx.pop()) {
    if (!packet_ok(pk)) ++c.dpc_verify_failures;  // the protocol checksum, outside any lock
    Connection& conn = *conns_[pk->conn];
    bool queued = false;
    {
      Held cn(conn.cn);
      --conn.in_flight;
      if (conn.rxq.count < kRxQueueLimit) {
        conn.rxq.push(pk);
        ++conn.delivered;
        queued = true;
      } else {
        ++conn.dropped;
      }
      set_flag(conn.flag);  // CN -> EV -> TP -> TC: wake a receiver
    }
    if (!queued) pool->free(pk, nullptr);
  }
  std::int64_t finished = 0;
  while (Packet* pk = tx.pop()) {
    if (pk->lost) {
      Connection& conn = *conns_[pk->conn];
      Held cn(conn.cn);
      --conn.in_flight;
      ++conn.dropped;
      {
        Held dv(nic.dv);
        ++nic.lost;
      }
      set_flag(conn.flag);  // a receiver waiting for it must look again
    }
    pool->free(pk, &pk->owner->quota);
    ++finished;
  }
  c.io_finished.fetch_add(static_cast<std::uint64_t>(finished), std::memory_order_relaxed);
}

}  // namespace smplock::pound::detail
