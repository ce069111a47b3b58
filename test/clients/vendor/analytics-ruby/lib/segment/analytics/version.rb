# frozen_string_literal: true

module Segment
  class Analytics
    VERSION = '2.5.0'
  end
end
