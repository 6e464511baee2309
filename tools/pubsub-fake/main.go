// Command pubsub-fake serves Google's in-memory Pub/Sub server (package pstest from
// Debian's golang-google-cloud-dev) on a fixed address, for PUBSUB_EMULATOR_HOST.
//
//	pubsub-fake -host 127.0.0.1 -port 8085
//
// Flags fall back to PUBSUB_FAKE_HOST and PUBSUB_FAKE_PORT. Once the listener is bound it
// prints one line "pubsub-fake listening on HOST:PORT" to stdout; SIGTERM or SIGINT stop
// it gracefully. All state is in memory and lost on exit.
//
// Known gaps of this pstest version (see tests/integration/test_pubsub_fake_gaps.py):
// no dead-letter forwarding, no delivery_attempt, no ordered delivery, no filters, no
// push delivery. The subscription settings are accepted and echoed back, not enforced.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"cloud.google.com/go/pubsub/pstest"
	pb "google.golang.org/genproto/googleapis/pubsub/v1"
	"google.golang.org/grpc"
)

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	defaultPort, err := strconv.Atoi(envOr("PUBSUB_FAKE_PORT", "8085"))
	if err != nil {
		log.Fatalf("PUBSUB_FAKE_PORT: %v", err)
	}
	host := flag.String("host", envOr("PUBSUB_FAKE_HOST", "127.0.0.1"), "address to bind")
	port := flag.Int("port", defaultPort, "port to bind (0 = any free port)")
	flag.Parse()

	// pstest only builds its GServer (unexported state) inside NewServer, which also
	// listens on a random loopback port; that listener stays unused. The same GServer is
	// registered on our own listener, so both addresses see one in-memory state.
	fake := pstest.NewServer()

	lis, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	gsrv := grpc.NewServer(grpc.MaxRecvMsgSize(20 << 20))
	pb.RegisterPublisherServer(gsrv, &fake.GServer)
	pb.RegisterSubscriberServer(gsrv, &fake.GServer)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		gsrv.Stop() // streaming pulls never end on their own: do not wait for them
	}()

	fmt.Printf("pubsub-fake listening on %s\n", lis.Addr().String())
	if err := gsrv.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
	_ = fake.Close()
}
