// Sends an identify, some track calls, a page and a group through Segment's Go library
// (analytics-go v3, vendored unmodified in test/clients/vendor/analytics-go with backo-go), the
// way a Go backend would, to an Inkstream collector. test/ingest/segment-go.test.ts runs it with
// Debian's go in GOPATH mode (GO111MODULE=off; GOPATH holds links to the vendored sources and
// Debian's /usr/share/gocode for github.com/google/uuid):
//
//	go run scripts/segment-go/send_events.go URL WRITE_KEY USER_ID
//
// The library posts its batches to URL/v1/batch with the write key as the Basic auth username. This
// prints one line per message the library reports through its Callback, "ok <messageId>" or
// "failed <messageId> <error>", and exits 1 unless all succeeded.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

type report struct {
	mu     sync.Mutex
	failed int
	done   sync.WaitGroup
}

func messageId(m analytics.Message) string {
	switch m := m.(type) {
	case analytics.Identify:
		return m.MessageId
	case analytics.Track:
		return m.MessageId
	case analytics.Page:
		return m.MessageId
	case analytics.Group:
		return m.MessageId
	}
	return fmt.Sprintf("unknown message %T", m)
}

func (r *report) Success(m analytics.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Printf("ok %s\n", messageId(m))
	r.done.Done()
}

func (r *report) Failure(m analytics.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Printf("failed %s %s\n", messageId(m), err)
	r.failed++
	r.done.Done()
}

func main() {
	url, writeKey, userId := os.Args[1], os.Args[2], os.Args[3]
	messages := []analytics.Message{
		analytics.Identify{UserId: userId, Traits: analytics.NewTraits().
			SetEmail(userId+"@example.com").SetFirstName("Go").Set("plan", "pro")},
		analytics.Track{UserId: userId, Event: "Product Viewed", Properties: analytics.NewProperties().
			Set("product_id", "p-5").Set("name", "Cup").Set("price", 8)},
		analytics.Track{UserId: userId, Event: "Order Completed", Properties: analytics.NewProperties().
			Set("order_id", userId+"-0").Set("revenue", 70)},
		analytics.Track{UserId: userId, Event: "Order Completed", Properties: analytics.NewProperties().
			Set("order_id", userId+"-1").Set("revenue", 5)},
		analytics.Page{UserId: userId, Name: "Pricing", Properties: analytics.NewProperties().Set("path", "/pricing")},
		analytics.Group{UserId: userId, GroupId: "acme", Traits: analytics.NewTraits().SetName("Acme")},
	}
	r := &report{}
	r.done.Add(len(messages))
	client, err := analytics.NewWithConfig(writeKey, analytics.Config{
		Endpoint:   url,
		BatchSize:  len(messages),
		Callback:   r,
		RetryAfter: func(int) time.Duration { return 100 * time.Millisecond },
	})
	if err != nil {
		fmt.Println("config:", err)
		os.Exit(1)
	}
	for _, m := range messages {
		if err := client.Enqueue(m); err != nil {
			fmt.Println("enqueue:", err)
			os.Exit(1)
		}
	}
	// Close flushes the queue and returns once the batches were sent (or given up on).
	client.Close()
	r.done.Wait()
	if r.failed > 0 {
		os.Exit(1)
	}
}
