# frozen_string_literal: true

require 'segment/analytics'
