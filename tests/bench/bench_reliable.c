/* Goodput of the reliable engine (common/data/reliable.h) against loss, on the simulated
 * path of tests/unit/rel_sim.h: two engines, a bottleneck link of fixed rate and delay
 * with a drop-tail queue of one BDP, random loss both ways. Prints, per loss rate, the
 * goodput the receiving application saw over a fixed span of virtual time, as a share of
 * the link, and beside it the Mathis et al. estimate for a Reno TCP at that loss
 * (MSS/RTT * 1.22/sqrt(p)), the usual yardstick for a loss-limited TCP. Also the engine's
 * own CPU cost per MiB moved (both ends, real time). Figures, not pass/fail.
 *
 *   bench-reliable [mbit] [rtt_ms] [seconds]     (defaults 100 20 20)
 * RTO_MIN=ms in the environment sets the connections' RTO floor (default 200); BURST=n
 * makes each loss take n packets in a row at the same share of packets lost (the
 * netns bench drops whole GSO runs of tens of frames); RUN=n drops by send run instead:
 * what an end emits at once is cut into runs of n packets and a loss takes a whole run
 * (the auxiliary's GSO runs of 64, nftables dropping one skb); TIMER_MS=1 rounds the
 * engines' deadlines up to milliseconds as the auxiliary's libuv timer does; SEED=n. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rel_sim.h"

struct flow {
	uint8_t chunk[65536], sink[65536];
	uint64_t delivered;
};

static void app(struct sim *s, void *ctx)
{
	struct flow *f = ctx;
	int n;

	while (rel_send(s->end[0], f->chunk, sizeof(f->chunk)) > 0)
		;
	while ((n = rel_recv(s->end[1], f->sink, sizeof(f->sink))) > 0)
		f->delivered += (uint64_t)n;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(double mbit, double rtt_ms, double seconds, double loss)
{
	struct rel_params p = { .conn_id = 1, .mss = 1350, .snd_buf = 16u << 20,
				.rcv_buf = 16u << 20,
				.rto_min_ms = getenv("RTO_MIN") ? (uint32_t)atoi(getenv("RTO_MIN")) : 0 };
	static struct flow f;
	struct rel_stats st;
	struct sim s;
	double cpu0, cpu, goodput, mathis;
	int err;

	f.delivered = 0;
	sim_init(&s, getenv("SEED") ? (uint64_t)atoll(getenv("SEED")) : 12345);
	s.timer_us = getenv("TIMER_MS") ? (uint64_t)atoi(getenv("TIMER_MS")) * 1000 : 0;
	for (int i = 0; i < 2; i++) {
		s.link[i].run = getenv("RUN") ? (unsigned)atoi(getenv("RUN")) : 0;
		s.link[i].burst = getenv("BURST") ? (unsigned)atoi(getenv("BURST")) : 0;
		s.link[i].loss = s.link[i].burst > 1 ? loss / s.link[i].burst : loss;
		s.link[i].delay_us = (uint64_t)(rtt_ms * 500);
		s.link[i].bytes_per_us = mbit / 8;
		s.link[i].queue_us = (uint64_t)(rtt_ms * 1000);
		s.end[i] = rel_new(&p, s.now, &err);
		if (!s.end[i]) {
			fprintf(stderr, "rel_new: %d\n", err);
			exit(1);
		}
	}
	cpu0 = cpu_seconds();
	sim_run(&s, app, NULL, &f, s.now + (uint64_t)(seconds * 1e6));
	cpu = cpu_seconds() - cpu0;
	rel_get_stats(s.end[0], &st);
	goodput = (double)f.delivered * 8 / seconds / 1e6;
	mathis = loss > 0 ? (1350 - 52) * 8 / (rtt_ms / 1000) * 1.22 / sqrt(loss) / 1e6 : mbit;
	if (mathis > mbit)
		mathis = mbit;
	printf("%5.1f%%  %8.1f Mbit/s  %5.1f%% of link  reno-estimate %8.1f Mbit/s  "
	       "ratio %5.2f  retx %7llu  rto %4llu  recoveries %6llu  srtt %6.1f ms  "
	       "cpu %5.2f ms/MiB\n",
	       loss * 100, goodput, 100 * goodput / mbit, mathis, goodput / mathis,
	       (unsigned long long)st.retransmits, (unsigned long long)st.timeouts,
	       (unsigned long long)st.fast_recoveries, (double)st.srtt_us / 1000,
	       f.delivered ? cpu * 1000 / ((double)f.delivered / (1 << 20)) : 0);
	sim_free(&s);
}

int main(int argc, char **argv)
{
	double mbit = argc > 1 ? atof(argv[1]) : 100;
	double rtt = argc > 2 ? atof(argv[2]) : 20;
	double seconds = argc > 3 ? atof(argv[3]) : 20;
	const double losses[] = { 0, 0.001, 0.01, 0.05, 0.20 };

	if (mbit <= 0 || rtt <= 0 || seconds <= 0) {
		fprintf(stderr, "usage: bench-reliable [mbit] [rtt_ms] [seconds]\n");
		return 2;
	}
	printf("reliable engine, simulated path: %.0f Mbit/s, RTT %.1f ms, %.0f s of virtual "
	       "time per row, random loss both ways\n", mbit, rtt, seconds);
	for (size_t i = 0; i < sizeof(losses) / sizeof(losses[0]); i++)
		run(mbit, rtt, seconds, losses[i]);
	return 0;
}
