using System;
using System.Collections.Generic;

namespace Segment.Model
{
    public class Traits : Dict
    {
    }
}
