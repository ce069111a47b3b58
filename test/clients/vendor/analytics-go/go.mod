module github.com/segmentio/analytics-go/v3

go 1.17

require (
	github.com/google/uuid v1.3.0
	github.com/segmentio/backo-go v1.0.0
	github.com/segmentio/conf v1.2.0
)
